/**
 * What the active backend holds in memory, and the most it can hold, for the figures of
 * `bench`, for choosing micro-batches (lib/train/memory_budget.ts) and for out-of-memory errors.
 *
 * @module
 */
import { tf } from "./tf.ts";

/**
 * The most a wasm32 heap can hold: 4 GiB of 32-bit addresses (tfjs-backend-wasm grows its heap on
 * demand up to there; it aborts when an allocation would pass it).
 */
export const WASM_HEAP_LIMIT_BYTES = 4 * 2 ** 30;

/**
 * The bytes the active backend holds: on wasm the size of its heap, which only grows (so the
 * process's high-water mark so far); on webgpu the bytes tfjs has allocated on the device (pooled
 * buffers included); null on cpu.
 *
 * @example
 * ```ts ignore
 * const held = backendBytes(); // e.g. 917504000 on wasm after a vit_b forward pass
 * ```
 */
export function backendBytes(): number | null {
  const backend = tf.getBackend();
  if (backend === "wasm") {
    const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
    return heap ? heap.length : null;
  }
  if (backend === "webgpu") {
    const memory = tf.memory() as { numBytesInGPUAllocated?: number; numBytesInGPU?: number };
    return memory.numBytesInGPUAllocated ?? memory.numBytesInGPU ?? null;
  }
  return null;
}

/** A backend's memory ceiling: how many bytes, and a name for messages. */
export interface BackendMemoryLimit {
  bytes: number;
  /** e.g. "the wasm heap". */
  what: string;
  /** Why the ceiling is there, e.g. "4 GiB, the most 32-bit addresses reach". */
  why: string;
}

/**
 * The ceiling of the active backend's memory when it is known: the 4 GiB wasm heap. Null on
 * webgpu (WebGPU does not tell how much device memory there is) and on cpu (tensors are ordinary
 * JavaScript arrays, bounded by the machine, not by the backend).
 *
 * @example
 * ```ts ignore
 * backendMemoryLimit()?.bytes; // 4294967296 on wasm
 * ```
 */
export function backendMemoryLimit(): BackendMemoryLimit | null {
  if (tf.getBackend() !== "wasm") return null;
  return {
    bytes: WASM_HEAP_LIMIT_BYTES,
    what: "the wasm heap",
    why: "4 GiB, the most 32-bit addresses reach",
  };
}
