/**
 * The safetensors format's header, parsed from bytes, and whole files held in memory (a web page
 * fetches its weights rather than opening files). Plain TypeScript; `safetensors.ts` reads files
 * by offset with the same parser.
 *
 * @module
 */
import {
  bytesPerElement,
  decodeToFloat32,
  isTensorDtype,
  numelOf,
  TENSOR_DTYPES,
  type TensorDtype,
} from "./dtype.ts";

/** Largest header accepted, as in the reference implementation: guards against absurd lengths. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Where one tensor lives in a safetensors file and what it holds. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Offset of the first byte from the start of the file (not of the data section). */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A parsed safetensors header: tensors in header order, plus the optional metadata map. */
export interface SafetensorsHeader {
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The header length a file's first 8 bytes give (little-endian), checked against the file's size
 * and {@link MAX_SAFETENSORS_HEADER_BYTES}; throws a `RangeError` without the file name.
 */
export function checkedHeaderLength(lengthBytes: Uint8Array, fileSize: number): number {
  if (fileSize < 8) {
    throw new RangeError(`the file is ${fileSize} bytes, too short to hold a header length`);
  }
  const view = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength === 0n) throw new RangeError("header length is 0");
  if (headerLength > BigInt(fileSize - 8)) {
    throw new RangeError(`header length ${headerLength} exceeds the file size ${fileSize}`);
  }
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw new RangeError(
      `header length ${headerLength} exceeds the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`,
    );
  }
  return Number(headerLength);
}

/** A safetensors file held in memory, its header checked. */
export interface SafetensorsBytes {
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in header order. */
  readonly names: readonly string[];
  /** Tensor `name`'s shape. */
  shape(name: string): number[];
  /** Tensor `name` converted to float32 (row-major). */
  read(name: string): Float32Array;
}

/**
 * Parses a whole safetensors file held in `bytes`, with the checks of `openSafetensors`; errors
 * are one line, `Cannot read safetensors "<label>": <why>`.
 *
 * @example
 * ```ts
 * import { parseSafetensorsBytes } from "./safetensors_bytes.ts";
 * const json = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
 * const bytes = new Uint8Array(8 + json.length + 4);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
 * bytes.set(json, 8);
 * new DataView(bytes.buffer).setFloat32(8 + json.length, 2.5, true);
 * parseSafetensorsBytes(bytes, "a.safetensors").read("a"); // Float32Array [2.5]
 * ```
 */
export function parseSafetensorsBytes(bytes: Uint8Array, label: string): SafetensorsBytes {
  const prefix = `Cannot read safetensors "${label}"`;
  let header: SafetensorsHeader;
  try {
    const headerLength = checkedHeaderLength(bytes.subarray(0, 8), bytes.length);
    const dataStart = 8 + headerLength;
    header = parseSafetensorsHeader(
      bytes.subarray(8, dataStart),
      bytes.length - dataStart,
      dataStart,
    );
  } catch (error) {
    throw new Error(`${prefix}: ${(error as Error).message}`);
  }
  const tensors = new Map(header.tensors.map((info) => [info.name, info]));
  const info = (name: string) => {
    const found = tensors.get(name);
    if (!found) throw new Error(`${prefix}: no tensor named "${name}"`);
    return found;
  };
  return {
    metadata: header.metadata,
    names: [...tensors.keys()],
    shape: (name) => [...info(name).shape],
    read(name) {
      const { dtype, byteOffset, byteLength } = info(name);
      return decodeToFloat32(dtype, bytes.subarray(byteOffset, byteOffset + byteLength));
    },
  };
}

/**
 * Parses and validates header bytes. `dataLength` is the size of the data section that follows
 * the header and `dataStart` its offset in the file (offsets in the result are file offsets).
 * Throws a one-line error without the file name; {@link openSafetensors} adds it.
 *
 * @example
 * ```ts
 * import { parseSafetensorsHeader } from "./safetensors_bytes.ts";
 * const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
 * const header = parseSafetensorsHeader(new TextEncoder().encode(json), 8, 8 + json.length);
 * header.tensors[0]?.shape; // [2]
 * ```
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  dataStart: number,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new TypeError("the header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new TypeError(`the header is not valid JSON (${reason})`);
  }
  if (!isPlainObject(json)) throw new TypeError("the header is not a JSON object");

  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(entry);
      continue;
    }
    tensors.push(parseTensorEntry(name, entry, dataLength, dataStart));
  }
  checkNoOverlap(tensors);
  return { tensors, metadata };
}

/** The `__metadata__` entry, checked to map strings to strings. */
export function parseMetadata(entry: unknown): Record<string, string> {
  if (!isPlainObject(entry) || !Object.values(entry).every((v) => typeof v === "string")) {
    throw new TypeError("__metadata__ is not a map from strings to strings");
  }
  return entry as Record<string, string>;
}

function parseTensorEntry(
  name: string,
  entry: unknown,
  dataLength: number,
  dataStart: number,
): SafetensorsTensorInfo {
  if (!isPlainObject(entry)) throw new TypeError(`tensor "${name}" is not a JSON object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isTensorDtype(dtype)) {
    throw new TypeError(
      `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: ${
        TENSOR_DTYPES.join(", ")
      })`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new TypeError(
      `tensor "${name}" shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) ||
    offsets[0]! > offsets[1]!
  ) {
    throw new TypeError(
      `tensor "${name}" data_offsets ${JSON.stringify(offsets)} are not [begin, end] with ` +
        `0 <= begin <= end`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const expectedBytes = numelOf(shape) * bytesPerElement(dtype);
  if (end - begin !== expectedBytes) {
    throw new RangeError(
      `tensor "${name}" data_offsets [${begin},${end}] do not match shape [${shape}] ` +
        `(${dtype} needs ${expectedBytes} bytes)`,
    );
  }
  if (end > dataLength) {
    throw new RangeError(
      `tensor "${name}" data_offsets [${begin},${end}] lie outside the ${dataLength}-byte ` +
        `data section`,
    );
  }
  return { name, dtype, shape, byteOffset: dataStart + begin, byteLength: end - begin };
}

function checkNoOverlap(tensors: readonly SafetensorsTensorInfo[]): void {
  // Empty tensors occupy no bytes and cannot overlap anything.
  const sorted = tensors.filter((t) => t.byteLength > 0).sort((a, b) =>
    a.byteOffset - b.byteOffset
  );
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.byteOffset < previous.byteOffset + previous.byteLength) {
      throw new RangeError(`tensors "${previous.name}" and "${current.name}" overlap`);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `value` is a whole number at least 0. */
export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
