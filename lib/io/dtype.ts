/**
 * Element types found in checkpoints and their decoding to float32. Every tensor the project
 * reads becomes a `Float32Array`, whatever it was stored as. Byte order is little-endian, the
 * order of safetensors files, PyTorch checkpoints and every machine Deno runs on.
 *
 * @module
 */

/** Element types, named as safetensors names them. */
export type TensorDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U8"
  | "BOOL";

const BYTES_PER_ELEMENT: Record<TensorDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Every dtype this module decodes. */
export const TENSOR_DTYPES: readonly TensorDtype[] = Object.keys(
  BYTES_PER_ELEMENT,
) as TensorDtype[];

/**
 * Whether `value` names a supported dtype.
 *
 * @example
 * ```ts
 * import { isTensorDtype } from "./dtype.ts";
 * isTensorDtype("BF16"); // true
 * isTensorDtype("F8_E4M3"); // false
 * ```
 */
export function isTensorDtype(value: unknown): value is TensorDtype {
  return typeof value === "string" && Object.hasOwn(BYTES_PER_ELEMENT, value);
}

/**
 * Size of one element of `dtype` in bytes.
 *
 * @example
 * ```ts
 * import { bytesPerElement } from "./dtype.ts";
 * bytesPerElement("F16"); // 2
 * ```
 */
export function bytesPerElement(dtype: TensorDtype): number {
  return BYTES_PER_ELEMENT[dtype];
}

/**
 * Number of elements of a tensor of `shape` (1 for a 0-d tensor).
 *
 * @example
 * ```ts
 * import { numelOf } from "./dtype.ts";
 * numelOf([2, 3]); // 6
 * numelOf([]); // 1
 * ```
 */
export function numelOf(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) count *= size;
  return count;
}

/**
 * Decodes little-endian elements of `dtype` to float32. F32 bytes that start at an aligned offset
 * are viewed, not copied, so the result may share memory with `bytes`. Integers beyond 2^24 and
 * F64 values lose precision, as they would in `tensor.float()`.
 *
 * @example
 * ```ts
 * import { decodeToFloat32 } from "./dtype.ts";
 * decodeToFloat32("F16", new Uint8Array([0x00, 0x3c])); // Float32Array [1]
 * ```
 */
export function decodeToFloat32(dtype: TensorDtype, bytes: Uint8Array): Float32Array {
  const size = BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  // Typed-array views need an offset that is a multiple of the element size.
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const count = aligned.byteLength / size;
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer, byteOffset, count);
    case "F16":
      return float16BitsToFloat32(new Uint16Array(buffer, byteOffset, count));
    case "BF16":
      return bfloat16BitsToFloat32(new Uint16Array(buffer, byteOffset, count));
    case "F64":
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case "I64": {
      const source = new BigInt64Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(source[i]!);
      return out;
    }
    case "I32":
      return Float32Array.from(new Int32Array(buffer, byteOffset, count));
    case "I16":
      return Float32Array.from(new Int16Array(buffer, byteOffset, count));
    case "I8":
      return Float32Array.from(new Int8Array(buffer, byteOffset, count));
    case "U8":
    case "BOOL":
      return Float32Array.from(aligned);
  }
}

/**
 * Converts IEEE half-precision bit patterns to float32 (exactly: every half is a float32).
 *
 * @example
 * ```ts
 * import { float16BitsToFloat32 } from "./dtype.ts";
 * float16BitsToFloat32(new Uint16Array([0x3c00, 0xc000, 0x0001])); // [1, -2, 2 ** -24]
 * ```
 */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/**
 * Converts bfloat16 bit patterns to float32. A bfloat16 is the top half of a float32, so the
 * conversion is a 16-bit shift.
 *
 * @example
 * ```ts
 * import { bfloat16BitsToFloat32 } from "./dtype.ts";
 * bfloat16BitsToFloat32(new Uint16Array([0x3f80, 0x4049])); // [1, 3.140625]
 * ```
 */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

let halfTable: Float32Array | undefined;

/** All 65536 half values as float32, built on first use (256 KiB); a lookup beats bit fiddling. */
function float16Table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    let value: number;
    if (exponent === 0) value = mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 31) value = mantissa === 0 ? Infinity : NaN;
    else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
    halfTable[bits] = sign * value;
  }
  return halfTable;
}
