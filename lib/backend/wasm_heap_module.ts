/**
 * The SIMD modules (GELU, attention, LayerNorm) instantiated over the wasm backend's own heap,
 * once per heap: they import tfjs-backend-wasm's `WebAssembly.Memory` and work on tensors in place.
 *
 * @module
 */

/** tfjs-backend-wasm 4.22's emscripten module, where it keeps its heap. */
interface WasmBackendHeap {
  wasm?: { asm?: { memory?: WebAssembly.Memory } };
}

// Per instantiating function, per heap: the module, or null where it could not be made.
// deno-lint-ignore ban-types
const instances = new WeakMap<Function, WeakMap<WebAssembly.Memory, unknown>>();

/** The wasm backend `backend`'s heap, or undefined for another backend or tfjs version. */
export function wasmHeapOf(backend: unknown): WebAssembly.Memory | undefined {
  const memory = (backend as WasmBackendHeap).wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * `instantiate(heap)` for the wasm backend `backend`, made on first use and kept for that heap;
 * undefined where the backend exposes no heap (another backend, another tfjs version) or
 * `instantiate` returns undefined (no WebAssembly SIMD).
 *
 * @example
 * ```ts ignore
 * const simd = wasmHeapModule(tf.backend(), geluSimd); // GeluSimd | undefined
 * ```
 */
export function wasmHeapModule<T>(
  backend: unknown,
  instantiate: (memory: WebAssembly.Memory) => T | undefined,
): T | undefined {
  const memory = wasmHeapOf(backend);
  if (!memory) return undefined;
  let byMemory = instances.get(instantiate);
  if (!byMemory) {
    byMemory = new WeakMap();
    instances.set(instantiate, byMemory);
  }
  if (!byMemory.has(memory)) byMemory.set(memory, instantiate(memory) ?? null);
  return (byMemory.get(memory) ?? undefined) as T | undefined;
}
