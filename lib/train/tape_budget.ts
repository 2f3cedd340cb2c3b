/**
 * How many stages of a staged gradient computation (lib/train/staged_gradients.ts) can keep the
 * tape of their first forward pass, skipping the repeated one, within the backend's memory.
 *
 * The tapes of the chain's last stages are alive together at the end of the forward pass, so
 * only a tail of the chain can skip the repetition. Its size comes from a measured step: each
 * stage's tape bytes and the peak with one tape alive.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";

/** The wasm backend's heap: 32-bit addresses. */
const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * The share of the limit the heap may reach: the wasm module aborts when its allocator finds no
 * room, so a plan must stay clear of the limit.
 */
const USABLE_SHARE = 0.8;

/**
 * Heap bytes per tensor byte, measured on wasm (vit_b, 512 px: 802 MiB of heap at a peak of
 * 622 MiB of tensors with one tape; a tail of 6 stages holding 889 MiB of tapes took the heap to
 * 2202 MiB): the allocator's gaps, and the gradients the backward pass makes beside the tapes.
 */
const HEAP_PER_PEAK_BYTE = 1.5;
const HEAP_PER_TAPE_BYTE = 2;

/**
 * Bytes the active backend's tensors may take in all, or undefined where no limit is known
 * (webgpu: tfjs cannot tell how much device memory is left). wasm: its 4 GiB heap; cpu: the
 * tensors alive now plus half the memory the system has available.
 *
 * @example
 * ```ts ignore
 * tensorMemoryLimit(); // 4294967296 on wasm
 * ```
 */
export function tensorMemoryLimit(): number | undefined {
  const backend = tf.getBackend();
  if (backend === "wasm") return WASM_HEAP_BYTES;
  if (backend === "cpu") {
    return tf.memory().numBytes + Deno.systemMemoryInfo().available / 2;
  }
  return undefined;
}

/** What a step with one tape at a time measured (see {@link tapedTailFor}). */
export interface StagedMemory {
  /** Each stage's tape bytes, in chain order; NaN for a stage not measured (never taped). */
  tapeBytes: readonly number[];
  /** The most tensor bytes alive at any complete tape. */
  peakBytes: number;
}

/**
 * The `tapedTail` for `stagedGradients`: 1 (only the last stage) plus as many stages before it
 * as fit (up to the first one not measured), counting {@link HEAP_PER_PEAK_BYTE} heap bytes per
 * byte of the measured peak and {@link HEAP_PER_TAPE_BYTE} per byte of each extra tape, within
 * {@link USABLE_SHARE} of `limitBytes`.
 *
 * @example
 * ```ts
 * // Stages of 100 bytes' tape each, a peak of 300 with one alive, 2000 bytes: 1600 usable,
 * // 450 for the peak, 200 per extra stage: 5 more fit.
 * tapedTailFor({ tapeBytes: [100, 100, 100, 100, 100, 100, 100, 100], peakBytes: 300 }, 2000); // 6
 * ```
 */
export function tapedTailFor(measured: StagedMemory, limitBytes: number): number {
  const { tapeBytes, peakBytes } = measured;
  let free = limitBytes * USABLE_SHARE - peakBytes * HEAP_PER_PEAK_BYTE;
  let tail = 1;
  for (let stage = tapeBytes.length - 2; stage >= 0; stage--) {
    const bytes = tapeBytes[stage]!;
    if (!Number.isFinite(bytes)) break;
    free -= bytes * HEAP_PER_TAPE_BYTE;
    if (free < 0) break;
    tail++;
  }
  return tail;
}
