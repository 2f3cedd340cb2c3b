/**
 * The safetensors checkpoint format: an 8-byte little-endian header length, a JSON header that
 * gives each tensor's dtype, shape and byte range, then the raw tensor bytes. Tensors are read on
 * demand by offset, so a 2.5 GB file costs only its header until a tensor is asked for.
 *
 * @module
 */
import { rethrowWithPrefix } from "./_file_errors.ts";
import { withAtomicFile, writeAll } from "./atomic_write.ts";
import { decodeToFloat32, numelOf } from "./dtype.ts";
import { RandomAccessFile } from "./random_access_file.ts";
import {
  checkedHeaderLength,
  isNonNegativeInteger,
  parseMetadata,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from "./safetensors_bytes.ts";

// The header's format is plain parsing, shared with in-memory files (the web page's weights).
export {
  MAX_SAFETENSORS_HEADER_BYTES,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from "./safetensors_bytes.ts";

/**
 * An open safetensors file whose header has been read and checked. Call {@link close} when done.
 *
 * @example
 * ```ts ignore
 * const file = await openSafetensors("sam_vit_b.safetensors");
 * console.log(file.info("image_encoder.pos_embed").shape); // [1, 64, 64, 768]
 * const posEmbed = await file.read("image_encoder.pos_embed"); // Float32Array
 * file.close();
 * ```
 */
export class SafetensorsFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** The `__metadata__` map of the header (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  #file: RandomAccessFile;
  #tensors: Map<string, SafetensorsTensorInfo>;

  constructor(path: string, file: RandomAccessFile, header: SafetensorsHeader) {
    this.path = path;
    this.#file = file;
    this.metadata = header.metadata;
    this.#tensors = new Map(header.tensors.map((info) => [info.name, info]));
  }

  /** Tensor names in header order. */
  get names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** Whether the file holds a tensor called `name`. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** Dtype, shape and byte range of tensor `name`. */
  info(name: string): SafetensorsTensorInfo {
    const info = this.#tensors.get(name);
    if (!info) throw new Error(`${readPrefix(this.path)}: no tensor named "${name}"`);
    return info;
  }

  /** Reads tensor `name` from disk and converts it to float32 (row-major, like the file). */
  async read(name: string): Promise<Float32Array> {
    const info = this.info(name);
    try {
      const bytes = await this.#file.readAt(info.byteOffset, info.byteLength);
      return decodeToFloat32(info.dtype, bytes);
    } catch (error) {
      rethrowWithPrefix(error, readPrefix(this.path));
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}

/**
 * Opens a safetensors file and validates its header: the length is bounded, the header is a UTF-8
 * JSON object, every dtype is known, every shape matches its byte range, every byte range lies in
 * the data section, and no two ranges overlap. Tensor data is not read yet.
 *
 * @example
 * ```ts ignore
 * const file = await openSafetensors("adapter.safetensors");
 * for (const name of file.names) console.log(name, file.info(name).shape);
 * file.close();
 * ```
 */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const prefix = readPrefix(path);
  let file: RandomAccessFile | undefined;
  try {
    file = await RandomAccessFile.open(path);
    if (file.size < 8) {
      throw new RangeError(`the file is ${file.size} bytes, too short to hold a header length`);
    }
    const headerLength = checkedHeaderLength(await file.readAt(0, 8), file.size);
    const headerBytes = await file.readAt(8, headerLength);
    const dataStart = 8 + headerLength;
    const header = parseSafetensorsHeader(headerBytes, file.size - dataStart, dataStart);
    return new SafetensorsFile(path, file, header);
  } catch (error) {
    file?.close();
    rethrowWithPrefix(error, prefix);
  }
}

/**
 * Reads every tensor of a (small) safetensors file into memory: name → shape and float32 values.
 * For large checkpoints use {@link openSafetensors} and read tensors one at a time.
 *
 * @example
 * ```ts ignore
 * const tensors = await readSafetensors("adapter.safetensors");
 * console.log(tensors.get("blocks.0.lora.a")?.shape); // [8, 768]
 * ```
 */
export async function readSafetensors(
  path: string,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const file = await openSafetensors(path);
  try {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of file.names) {
      tensors.set(name, { shape: [...file.info(name).shape], data: await file.read(name) });
    }
    return tensors;
  } finally {
    file.close();
  }
}

/** One tensor to write: its values, or a function that produces them when their turn comes. */
export interface SafetensorsTensorInput {
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * Row-major float32 values, `numel(shape)` of them. A function is called only when the writer
   * reaches this tensor, so that a converter holds one tensor in memory at a time.
   */
  readonly data: Float32Array | (() => Float32Array | Promise<Float32Array>);
}

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Stored as the header's `__metadata__` map. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What {@link writeSafetensors} wrote. */
export interface WriteSafetensorsSummary {
  tensors: number;
  values: number;
  bytes: number;
}

/**
 * Writes float32 tensors as a safetensors file, atomically (temporary file, then rename). Names
 * are sorted, the header is padded with spaces to a multiple of 8 bytes (so every tensor starts
 * 8-byte aligned), and tensors are written one by one without building the whole file in memory.
 *
 * @example
 * ```ts ignore
 * await writeSafetensors("adapter.safetensors", [
 *   { name: "lora.a", shape: [2, 3], data: new Float32Array(6) },
 * ], { metadata: { method: "lora" } });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors:
    | Iterable<SafetensorsTensorInput>
    | ReadonlyMap<string, Omit<SafetensorsTensorInput, "name">>,
  options: WriteSafetensorsOptions = {},
): Promise<WriteSafetensorsSummary> {
  const prefix = `Cannot write safetensors "${path}"`;
  try {
    const inputs = tensors instanceof Map
      ? [...tensors].map(([name, tensor]) => ({ name, ...tensor }))
      : [...tensors as Iterable<SafetensorsTensorInput>];
    const sorted = checkWriteInputs(inputs).sort((a, b) => compareStrings(a.name, b.name));
    const header: Record<string, unknown> = {};
    if (options.metadata) header.__metadata__ = parseMetadata({ ...options.metadata });
    let offset = 0;
    for (const tensor of sorted) {
      const byteLength = numelOf(tensor.shape) * 4;
      header[tensor.name] = {
        dtype: "F32",
        shape: tensor.shape,
        data_offsets: [offset, offset + byteLength],
      };
      offset += byteLength;
    }
    const headerBytes = paddedHeaderBytes(header);
    const lengthBytes = new Uint8Array(8);
    new DataView(lengthBytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);

    let values = 0;
    await withAtomicFile(path, async (file) => {
      await writeAll(file, lengthBytes);
      await writeAll(file, headerBytes);
      for (const tensor of sorted) {
        const data = typeof tensor.data === "function" ? await tensor.data() : tensor.data;
        const numel = numelOf(tensor.shape);
        if (!(data instanceof Float32Array) || data.length !== numel) {
          throw new TypeError(
            `tensor "${tensor.name}" has ${describeData(data)}, expected ${numel} float32 ` +
              `values for shape [${tensor.shape}]`,
          );
        }
        await writeAll(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        values += numel;
      }
    });
    return { tensors: sorted.length, values, bytes: 8 + headerBytes.length + offset };
  } catch (error) {
    rethrowWithPrefix(error, prefix);
  }
}

function checkWriteInputs(inputs: SafetensorsTensorInput[]): SafetensorsTensorInput[] {
  const seen = new Set<string>();
  for (const { name, shape, data } of inputs) {
    if (typeof name !== "string" || name === "__metadata__") {
      throw new TypeError(`${JSON.stringify(name)} cannot be a tensor name`);
    }
    if (seen.has(name)) throw new TypeError(`tensor "${name}" is given twice`);
    seen.add(name);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      throw new TypeError(
        `tensor "${name}" shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      );
    }
    if (data instanceof Float32Array && data.length !== numelOf(shape)) {
      throw new TypeError(
        `tensor "${name}" has ${data.length} values, expected ${numelOf(shape)} for shape ` +
          `[${shape}]`,
      );
    }
  }
  return inputs;
}

function describeData(data: unknown): string {
  if (data instanceof Float32Array) return `${data.length} values`;
  return `a ${data?.constructor?.name ?? typeof data}`;
}

/** JSON header, space-padded so that the data section starts on an 8-byte boundary. */
function paddedHeaderBytes(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

/** Code-point order, independent of the locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function readPrefix(path: string): string {
  return `Cannot read safetensors "${path}"`;
}
