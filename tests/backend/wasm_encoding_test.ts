/** LEB128 and names of the WebAssembly binary format, against the specification's examples. */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { readUleb, sleb, uleb, wasmName } from "../../lib/backend/wasm_encoding.ts";

Deno.test("uleb() and sleb() write the bytes of LEB128", () => {
  assertEquals(uleb(0), [0x00]);
  assertEquals(uleb(127), [0x7f]);
  assertEquals(uleb(128), [0x80, 0x01]);
  assertEquals(uleb(624485), [0xe5, 0x8e, 0x26]);
  assertEquals(uleb(0xffffffff), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assertEquals(sleb(0), [0x00]);
  assertEquals(sleb(63), [0x3f]);
  assertEquals(sleb(64), [0xc0, 0x00]);
  assertEquals(sleb(-1), [0x7f]);
  assertEquals(sleb(-64), [0x40]);
  assertEquals(sleb(-65), [0xbf, 0x7f]);
  assertEquals(sleb(-123456), [0xc0, 0xbb, 0x78]);
});

Deno.test("readUleb() reads what uleb() writes, and names where a number runs past the end", () => {
  for (const value of [0, 1, 127, 128, 300, 65536, 624485, 0xffffffff]) {
    const bytes = new Uint8Array([0x99, ...uleb(value), 0x42]);
    assertEquals(readUleb(bytes, 1), { value, next: bytes.length - 1 });
  }
  throws(() => readUleb(new Uint8Array([0x80, 0x80]), 0), /runs past the module's end/);
});

Deno.test("wasmName() writes the UTF-8 length, then the bytes", () => {
  assertEquals(wasmName("env"), [3, 0x65, 0x6e, 0x76]);
  assertEquals(wasmName("é"), [2, 0xc3, 0xa9]);
  assertEquals(wasmName(""), [0]);
});
