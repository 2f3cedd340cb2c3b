/**
 * Reading and writing single-channel 8-bit label PNGs (class index per pixel, 255 = ignore).
 *
 * Labels are decoded here rather than through sharp because libvips expands a palette PNG to RGB
 * colours, while a palette label's meaning is its palette *indices*.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { RasterImage } from "./decode.ts";

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

const COLOUR_TYPE_NAMES: Record<number, string> = {
  0: "grey",
  2: "RGB",
  3: "palette",
  4: "grey with alpha",
  6: "RGBA",
};

/**
 * Decodes a label PNG held in memory: a grey PNG's values or a palette PNG's indices, as a
 * one-channel {@link RasterImage}. Throws a one-line `Error` for anything else (RGB, 16 bits,
 * interlaced, truncated, not a PNG).
 *
 * @example
 * ```ts ignore
 * const label = await decodeLabelPng(await Deno.readFile("mask.png"));
 * console.log(label.channels); // 1
 * ```
 */
export async function decodeLabelPng(bytes: Uint8Array): Promise<RasterImage> {
  if (bytes.length < 8 || PNG_SIGNATURE.some((value, i) => bytes[i] !== value)) {
    throw new Error("not a PNG file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let header: { width: number; height: number; bitDepth: number; colourType: number } | null = null;
  const compressed: Uint8Array[] = [];
  let ended = false;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const body = offset + 8;
    if (body + length + 4 > bytes.length) throw new Error(`truncated PNG (chunk ${type})`);
    if (type === "IHDR") {
      header = {
        width: view.getUint32(body),
        height: view.getUint32(body + 4),
        bitDepth: bytes[body + 8]!,
        colourType: bytes[body + 9]!,
      };
      if (bytes[body + 12] !== 0) throw new Error("interlaced PNG labels are not supported");
    } else if (type === "IDAT") {
      compressed.push(bytes.subarray(body, body + length));
    } else if (type === "IEND") {
      ended = true;
      break;
    }
    offset = body + length + 4;
  }
  if (header === null) throw new Error("PNG without IHDR chunk");
  if (!ended) throw new Error("truncated PNG (no IEND chunk)");
  const { width, height, bitDepth, colourType } = header;
  if (colourType !== 0 && colourType !== 3) {
    throw new Error(
      `label PNG is ${COLOUR_TYPE_NAMES[colourType] ?? `colour type ${colourType}`}, ` +
        "expected a single-channel grey or palette PNG",
    );
  }
  if (bitDepth > 8) throw new Error(`label PNG has ${bitDepth} bits per pixel, expected 8`);
  let inflated: Uint8Array;
  try {
    inflated = await inflate(compressed);
  } catch {
    throw new Error("truncated or corrupt PNG data");
  }
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  if (inflated.length < (rowBytes + 1) * height) throw new Error("truncated PNG data");
  const rows = unfilter(inflated, rowBytes, height);
  return { data: unpackSamples(rows, width, height, bitDepth), width, height, channels: 1 };
}

/**
 * Reads a label PNG file; errors name the file:
 * `Cannot read label "a.png": label PNG is RGB, expected a single-channel grey or palette PNG`.
 *
 * @example
 * ```ts ignore
 * const label = await readLabelPng("annotations_detectron2/test/0001.png");
 * ```
 */
export async function readLabelPng(path: string): Promise<RasterImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new Error(`Cannot read label "${path}": ${reason}`);
  }
  try {
    return await decodeLabelPng(bytes);
  } catch (error) {
    throw new Error(`Cannot read label "${path}": ${(error as Error).message}`);
  }
}

/**
 * Encodes a class map as a PNG: 8-bit grey, or 8-bit palette when `palette` (RGB triplets) is
 * given. The output is deterministic.
 *
 * @example
 * ```ts
 * import { encodeLabelPng } from "./label_png.ts";
 * const png = await encodeLabelPng(new Uint8Array([0, 1, 255, 2]), { width: 2, height: 2 });
 * ```
 */
export async function encodeLabelPng(
  data: Uint8Array,
  options: { width: number; height: number; palette?: Uint8Array },
): Promise<Uint8Array> {
  const { width, height, palette } = options;
  if (data.length !== width * height) {
    throw new RangeError(`Label has ${data.length} values, expected ${width}x${height}`);
  }
  const raw = new Uint8Array((width + 1) * height); // filter byte 0 ("none") per row
  for (let y = 0; y < height; y++) {
    raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, width);
  headerView.setUint32(4, height);
  header[8] = 8;
  header[9] = palette ? 3 : 0;
  const chunks = [pngChunk("IHDR", header)];
  if (palette) chunks.push(pngChunk("PLTE", palette));
  chunks.push(pngChunk("IDAT", await deflate(raw)), pngChunk("IEND", new Uint8Array(0)));
  return concat([new Uint8Array(PNG_SIGNATURE), ...chunks]);
}

/**
 * Writes a class map as a grey label PNG (see {@link encodeLabelPng}).
 *
 * @example
 * ```ts ignore
 * await writeLabelPng("pred/0001.png", prediction, { width: 640, height: 480 });
 * ```
 */
export async function writeLabelPng(
  path: string,
  data: Uint8Array,
  options: { width: number; height: number; palette?: Uint8Array },
): Promise<void> {
  await writeFileAtomic(path, await encodeLabelPng(data, options));
}

/** Reverses the per-row PNG filters (one byte per pixel for all formats accepted here). */
function unfilter(inflated: Uint8Array, rowBytes: number, height: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const filter = inflated[y * (rowBytes + 1)]!;
    const src = y * (rowBytes + 1) + 1;
    const row = y * rowBytes;
    const prev = row - rowBytes;
    // Fast paths for the common filters; the general loop below handles all five.
    if (filter === 0) {
      out.set(inflated.subarray(src, src + rowBytes), row);
      continue;
    }
    if (filter === 2 && y > 0) {
      for (let x = 0; x < rowBytes; x++) out[row + x] = inflated[src + x]! + out[prev + x]!;
      continue;
    }
    for (let x = 0; x < rowBytes; x++) {
      const raw = inflated[src + x]!;
      const left = x > 0 ? out[row + x - 1]! : 0;
      const up = y > 0 ? out[prev + x]! : 0;
      const upLeft = x > 0 && y > 0 ? out[prev + x - 1]! : 0;
      let value: number;
      switch (filter) {
        case 0:
          value = raw;
          break;
        case 1:
          value = raw + left;
          break;
        case 2:
          value = raw + up;
          break;
        case 3:
          value = raw + ((left + up) >> 1);
          break;
        case 4:
          value = raw + paeth(left, up, upLeft);
          break;
        default:
          throw new Error(`corrupt PNG data (row filter ${filter})`);
      }
      out[row + x] = value & 255;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Expands 1-, 2- and 4-bit samples to one byte each (sample values, not rescaled). */
function unpackSamples(
  rows: Uint8Array,
  width: number,
  height: number,
  bitDepth: number,
): Uint8Array {
  if (bitDepth === 8) return rows;
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const mask = (1 << bitDepth) - 1;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * bitDepth;
      const byte = rows[y * rowBytes + (bit >> 3)]!;
      out[y * width + x] = (byte >> (8 - bitDepth - (bit & 7))) & mask;
    }
  }
  return out;
}

async function inflate(parts: Uint8Array[]): Promise<Uint8Array> {
  const stream = new Blob(parts as BlobPart[]).stream().pipeThrough(
    new DecompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + body.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(body, 8);
  view.setUint32(8 + body.length, crc32(chunk.subarray(4, 8 + body.length)));
  return chunk;
}

let crcTable: Uint32Array | null = null;

function crc32(bytes: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 255]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
