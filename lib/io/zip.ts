/**
 * A minimal ZIP reader: enough for PyTorch checkpoints, which are ZIP archives of a pickle and
 * one uncompressed entry per tensor storage. Reads the central directory (ZIP64 included, for
 * archives over 4 GB or with large entries) and then entries by offset, never the whole archive.
 *
 * @module
 */
import { inflateRawSync } from "node:zlib";
import { rethrowWithPrefix } from "./_file_errors.ts";
import { RandomAccessFile } from "./random_access_file.ts";

/** One file inside a ZIP archive, as the central directory describes it. */
export interface ZipEntry {
  readonly name: string;
  /** 0 stored (uncompressed), 8 deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly crc32: number;
  /** Offset of the entry's local header in the archive. */
  readonly localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const ZIP64_EXTRA_FIELD = 0x0001;
/** The end record is 22 bytes plus a comment of at most 65535 bytes. */
const MAX_END_RECORD_SEARCH = 22 + 0xffff;
/** Far above what any checkpoint needs; stops a corrupt count from allocating gigabytes. */
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;
/** Entries read whole (the pickle) are bounded; tensor data is read by range instead. */
const MAX_WHOLE_ENTRY_BYTES = 1024 * 1024 * 1024;

/**
 * An open ZIP archive. Call {@link close} when done.
 *
 * @example
 * ```ts ignore
 * const zip = await openZip("sam_vit_b_01ec64.pth");
 * const pickle = await zip.readEntry("sam_vit_b_01ec64/data.pkl");
 * zip.close();
 * ```
 */
export class ZipArchive {
  /** The path the archive was opened with. */
  readonly path: string;
  /** Entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  #file: RandomAccessFile;
  #byName: Map<string, ZipEntry>;
  #dataOffsets = new Map<ZipEntry, number>();

  constructor(path: string, file: RandomAccessFile, entries: ZipEntry[]) {
    this.path = path;
    this.#file = file;
    this.entries = entries;
    this.#byName = new Map(entries.map((entry) => [entry.name, entry]));
  }

  /** The entry called `name`, or undefined. */
  entry(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /** Reads and, if deflated, inflates a whole entry. Meant for small entries. */
  async readEntry(entryOrName: ZipEntry | string): Promise<Uint8Array> {
    const entry = this.#resolve(entryOrName);
    try {
      if (entry.compressedSize > MAX_WHOLE_ENTRY_BYTES) {
        throw new RangeError(`entry "${entry.name}" is too large to read whole`);
      }
      const start = await this.#dataOffset(entry);
      const raw = await this.#file.readAt(start, entry.compressedSize);
      if (entry.method === 0) return raw;
      if (entry.method === 8) {
        const inflated = inflateRawSync(raw);
        if (inflated.length !== entry.uncompressedSize) {
          throw new RangeError(
            `entry "${entry.name}" inflates to ${inflated.length} bytes, expected ` +
              `${entry.uncompressedSize}`,
          );
        }
        return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length);
      }
      throw new TypeError(
        `entry "${entry.name}" uses compression method ${entry.method} (only stored and deflate ` +
          `are supported)`,
      );
    } catch (error) {
      rethrowWithPrefix(error, this.#prefix());
    }
  }

  /**
   * Reads `length` bytes at `offset` inside a stored (uncompressed) entry, without reading the
   * rest of it.
   */
  async readRange(
    entryOrName: ZipEntry | string,
    offset: number,
    length: number,
  ): Promise<Uint8Array> {
    const entry = this.#resolve(entryOrName);
    try {
      if (entry.method !== 0) {
        throw new TypeError(
          `entry "${entry.name}" is compressed (method ${entry.method}); tensor data must be ` +
            `stored uncompressed`,
        );
      }
      if (offset < 0 || length < 0 || offset + length > entry.uncompressedSize) {
        throw new RangeError(
          `byte range [${offset}, ${offset + length}) lies outside entry "${entry.name}" ` +
            `(${entry.uncompressedSize} bytes)`,
        );
      }
      const start = await this.#dataOffset(entry);
      return await this.#file.readAt(start + offset, length);
    } catch (error) {
      rethrowWithPrefix(error, this.#prefix());
    }
  }

  /** Closes the archive. */
  close(): void {
    this.#file.close();
  }

  #resolve(entryOrName: ZipEntry | string): ZipEntry {
    if (typeof entryOrName !== "string") return entryOrName;
    const entry = this.#byName.get(entryOrName);
    if (!entry) throw new Error(`${this.#prefix()}: no entry named "${entryOrName}"`);
    return entry;
  }

  /** The data starts after the local header, whose extra field may differ from the central one. */
  async #dataOffset(entry: ZipEntry): Promise<number> {
    const known = this.#dataOffsets.get(entry);
    if (known !== undefined) return known;
    if (entry.localHeaderOffset + 30 > this.#file.size) {
      throw new RangeError(`entry "${entry.name}" local header lies outside the file`);
    }
    const header = await this.#file.readAt(entry.localHeaderOffset, 30);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_FILE_HEADER) {
      throw new TypeError(`entry "${entry.name}" has no local header at its recorded offset`);
    }
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    const start = entry.localHeaderOffset + 30 + nameLength + extraLength;
    if (start + entry.compressedSize > this.#file.size) {
      throw new RangeError(
        `entry "${entry.name}" (${entry.compressedSize} bytes at ${start}) runs past the end of ` +
          `the ${this.#file.size}-byte file`,
      );
    }
    this.#dataOffsets.set(entry, start);
    return start;
  }

  #prefix(): string {
    return `Cannot read ZIP archive "${this.path}"`;
  }
}

/**
 * Opens a ZIP archive and reads its central directory.
 *
 * @example
 * ```ts ignore
 * const zip = await openZip("checkpoint.pth");
 * console.log(zip.entries.map((entry) => entry.name));
 * zip.close();
 * ```
 */
export async function openZip(path: string): Promise<ZipArchive> {
  let file: RandomAccessFile | undefined;
  try {
    file = await RandomAccessFile.open(path);
    const entries = await readCentralDirectory(file);
    return new ZipArchive(path, file, entries);
  } catch (error) {
    file?.close();
    rethrowWithPrefix(error, `Cannot read ZIP archive "${path}"`);
  }
}

interface CentralDirectoryLocation {
  entryCount: number;
  size: number;
  offset: number;
}

async function readCentralDirectory(file: RandomAccessFile): Promise<ZipEntry[]> {
  const location = await locateCentralDirectory(file);
  if (location.size > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new RangeError(`central directory of ${location.size} bytes is implausibly large`);
  }
  if (location.offset + location.size > file.size) {
    throw new RangeError("central directory lies outside the file (truncated archive?)");
  }
  const bytes = await file.readAt(location.offset, location.size);
  const view = new DataView(bytes.buffer);
  const entries: ZipEntry[] = [];
  let position = 0;
  for (let i = 0; i < location.entryCount; i++) {
    if (
      position + 46 > bytes.length || view.getUint32(position, true) !== CENTRAL_DIRECTORY_HEADER
    ) {
      throw new TypeError(`central directory entry ${i} is malformed`);
    }
    const flags = view.getUint16(position + 8, true);
    const method = view.getUint16(position + 10, true);
    const crc32 = view.getUint32(position + 16, true);
    let compressedSize = view.getUint32(position + 20, true);
    let uncompressedSize = view.getUint32(position + 24, true);
    const nameLength = view.getUint16(position + 28, true);
    const extraLength = view.getUint16(position + 30, true);
    const commentLength = view.getUint16(position + 32, true);
    let localHeaderOffset = view.getUint32(position + 42, true);
    const nameStart = position + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > bytes.length) throw new TypeError(`central directory entry ${i} is malformed`);
    const name = new TextDecoder().decode(bytes.subarray(nameStart, extraStart));
    if (flags & 0x1) throw new TypeError(`entry "${name}" is encrypted`);

    // ZIP64: fields set to 0xFFFFFFFF in the header are given in the extra field, in this order.
    const zip64 = findExtraField(view, extraStart, extraLength, ZIP64_EXTRA_FIELD);
    if (zip64) {
      let cursor = zip64.start;
      const take = (): number => {
        if (cursor + 8 > zip64.start + zip64.length) {
          throw new TypeError(`entry "${name}" has a short ZIP64 extra field`);
        }
        const value = safeNumber(view.getBigUint64(cursor, true), `entry "${name}" size`);
        cursor += 8;
        return value;
      };
      if (uncompressedSize === 0xffffffff) uncompressedSize = take();
      if (compressedSize === 0xffffffff) compressedSize = take();
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
    }
    if (method === 0 && compressedSize !== uncompressedSize) {
      throw new TypeError(
        `stored entry "${name}" has compressed size ${compressedSize} but size ${uncompressedSize}`,
      );
    }
    entries.push({ name, method, compressedSize, uncompressedSize, crc32, localHeaderOffset });
    position = next;
  }
  return entries;
}

async function locateCentralDirectory(file: RandomAccessFile): Promise<CentralDirectoryLocation> {
  if (file.size < 22) throw new TypeError(`not a ZIP archive (only ${file.size} bytes)`);
  const tailLength = Math.min(file.size, MAX_END_RECORD_SEARCH);
  const tailStart = file.size - tailLength;
  const tail = await file.readAt(tailStart, tailLength);
  const view = new DataView(tail.buffer);
  let end = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === END_OF_CENTRAL_DIRECTORY) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    throw new TypeError("not a ZIP archive (no end of central directory record; truncated?)");
  }
  const location = {
    entryCount: view.getUint16(end + 10, true),
    size: view.getUint32(end + 12, true),
    offset: view.getUint32(end + 16, true),
  };
  // A ZIP64 locator sits right before the classic end record and points to the ZIP64 record.
  const locator = end - 20;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_END_LOCATOR) {
    const recordOffset = safeNumber(view.getBigUint64(locator + 8, true), "ZIP64 record offset");
    if (recordOffset + 56 > file.size) {
      throw new RangeError("ZIP64 end record lies outside the file");
    }
    const record = new DataView((await file.readAt(recordOffset, 56)).buffer);
    if (record.getUint32(0, true) !== ZIP64_END_OF_CENTRAL_DIRECTORY) {
      throw new TypeError("ZIP64 end record is missing");
    }
    location.entryCount = safeNumber(record.getBigUint64(32, true), "ZIP64 entry count");
    location.size = safeNumber(record.getBigUint64(40, true), "ZIP64 directory size");
    location.offset = safeNumber(record.getBigUint64(48, true), "ZIP64 directory offset");
  }
  return location;
}

function findExtraField(
  view: DataView,
  start: number,
  length: number,
  id: number,
): { start: number; length: number } | undefined {
  let position = start;
  while (position + 4 <= start + length) {
    const fieldId = view.getUint16(position, true);
    const fieldLength = view.getUint16(position + 2, true);
    if (fieldId === id) return { start: position + 4, length: fieldLength };
    position += 4 + fieldLength;
  }
  return undefined;
}

function safeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`${what} ${value} is too large`);
  }
  return Number(value);
}
