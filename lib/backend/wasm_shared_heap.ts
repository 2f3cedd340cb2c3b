/**
 * tfjs-backend-wasm's single-threaded SIMD build started over a shared heap, so that the kernel
 * threads of `heap_threads.ts` can work on its tensors.
 *
 * The build defines its own memory (256 pages at first, at most 65536: 4 GiB), which cannot be
 * shared. While the backend starts, `WebAssembly.instantiate` is wrapped: given tfjs's module, it
 * rewrites the bytes so that the memory is imported instead (same limits, shared) and passes a
 * `WebAssembly.Memory` made here. Nothing else in the module changes: its code never needed its
 * memory to be its own, tfjs's JavaScript reads it through typed arrays (which work the same on a
 * `SharedArrayBuffer`), and growth keeps working (a shared memory grows in place).
 *
 * @module
 */
import { readUleb, uleb, wasmName } from "./wasm_encoding.ts";

/** The byte layout of tfjs-backend-wasm 4.22's memory section this module rewrites. */
const PAGE_LIMITS = { initial: 256, maximum: 65536 };

/**
 * `bytes` (a module that defines one memory with limits {@link PAGE_LIMITS} and imports none)
 * with that memory imported as `env.memory`, shared, with the same limits; undefined for any
 * other module.
 *
 * @example
 * ```ts ignore
 * const shared = sharedMemoryModule(await Deno.readFile("tfjs-backend-wasm-simd.wasm"));
 * ```
 */
export function sharedMemoryModule(bytes: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[4] !== 0x01) {
    return undefined;
  }
  const sections: { id: number; body: Uint8Array }[] = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const size = readUleb(bytes, at + 1);
    sections.push({ id, body: bytes.subarray(size.next, size.next + size.value) });
    at = size.next + size.value;
  }
  const memory = sections.find((s) => s.id === 5);
  const imports = sections.find((s) => s.id === 2);
  if (!memory || !imports) return undefined;
  // One memory, flags 1 (a maximum, not shared), then the two limits.
  const count = readUleb(memory.body, 0);
  if (count.value !== 1 || memory.body[count.next] !== 0x01) return undefined;
  const initial = readUleb(memory.body, count.next + 1);
  const maximum = readUleb(memory.body, initial.next);
  if (
    initial.value !== PAGE_LIMITS.initial || maximum.value !== PAGE_LIMITS.maximum ||
    maximum.next !== memory.body.length
  ) return undefined;
  // The imported memory takes index 0, which the module's own memory had: every memory
  // instruction, data segment and the "memory" export keep their meaning.
  const entries = readUleb(imports.body, 0);
  const importBody = [
    ...uleb(entries.value + 1),
    ...imports.body.subarray(entries.next),
    ...wasmName("env"),
    ...wasmName("memory"),
    0x02,
    0x03,
    ...uleb(initial.value),
    ...uleb(maximum.value),
  ];
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const section of sections) {
    if (section.id === 5) continue;
    const body = section.id === 2 ? new Uint8Array(importBody) : section.body;
    parts.push(new Uint8Array([section.id, ...uleb(body.length)]), body);
  }
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Runs `start` (the wasm backend's start) with tfjs's module instantiated over a new shared
 * memory; resolves to that memory, or to undefined where the module was not one this rewrite
 * knows (it then starts as it is).
 */
export async function withSharedHeap(
  start: () => Promise<void>,
): Promise<WebAssembly.Memory | undefined> {
  const original = WebAssembly.instantiate;
  let memory: WebAssembly.Memory | undefined;
  const wrapped = (source: unknown, imports?: WebAssembly.Imports) => {
    const env = imports?.env as Record<string, unknown> | undefined;
    if (
      memory === undefined && env && (source instanceof ArrayBuffer || ArrayBuffer.isView(source))
    ) {
      const view = source instanceof ArrayBuffer
        ? new Uint8Array(source)
        : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
      const rewritten = sharedMemoryModule(view);
      if (rewritten) {
        memory = new WebAssembly.Memory({ ...PAGE_LIMITS, shared: true });
        return original(rewritten, { ...imports, env: { ...env, memory } });
      }
    }
    return original(source as BufferSource, imports);
  };
  (WebAssembly as { instantiate: unknown }).instantiate = wrapped;
  try {
    await start();
  } finally {
    (WebAssembly as { instantiate: unknown }).instantiate = original;
  }
  return memory;
}
