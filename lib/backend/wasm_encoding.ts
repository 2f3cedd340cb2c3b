/**
 * The integer and name encodings of the WebAssembly binary format: LEB128 numbers and
 * length-prefixed UTF-8 names. The kernel assembler (`lib/nn/wasm_code.ts`) writes modules with
 * them and the shared-heap rewrite (`wasm_shared_heap.ts`) reads and rewrites tfjs's module.
 *
 * @module
 */

/**
 * Unsigned LEB128.
 *
 * @example
 * ```ts
 * uleb(624485); // [0xe5, 0x8e, 0x26]
 * ```
 */
export function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/**
 * Signed LEB128.
 *
 * @example
 * ```ts
 * sleb(-123456); // [0xc0, 0xbb, 0x78]
 * ```
 */
export function sleb(value: number): number[] {
  const bytes: number[] = [];
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

/**
 * Reads the unsigned LEB128 number at byte `at`: its value and the index of the byte after it.
 *
 * @example
 * ```ts
 * readUleb(new Uint8Array([0x00, 0xe5, 0x8e, 0x26]), 1); // { value: 624485, next: 4 }
 * ```
 */
export function readUleb(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  let next = at;
  for (;;) {
    const byte = bytes[next++];
    if (byte === undefined) throw new RangeError("a LEB128 number runs past the module's end");
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next };
  }
}

/**
 * A name as the binary format writes it: its UTF-8 length in LEB128, then the bytes.
 *
 * @example
 * ```ts
 * wasmName("env"); // [3, 0x65, 0x6e, 0x76]
 * ```
 */
export function wasmName(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}
