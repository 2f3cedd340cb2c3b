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
 * room, which is much worse than a stage computed twice, so a plan stays well clear of it.
 */
const USABLE_SHARE = 0.85;

/**
 * Heap bytes per byte of the measured peak (the tensors held plus one stage's tape, its buffers
 * counted once) and per byte of each extra tape, measured on wasm (vit_b, 1024 px, batch 1,
 * each from a fresh process): one tape at a time, a peak of 1003 MiB took the heap to 1195 MiB
 * (1.19x, lora); the whole chain under one tape, 2080 MiB of tapes more, to 2963 MiB (0.85x each:
 * the first step's scratch is reused; lora), and mopeft's blocks 3 to 11, 1922 MiB more, to
 * 2867 MiB (0.90x). Both rounded up: at 1024 px that tapes the whole chain (lora: heap 2919 MiB)
 * and all but the patch embedding and the first block (mopeft: heap 3304 MiB; the tapes' earlier
 * 1.1 left blocks 0 to 2 to be computed twice, 2.2 s of a step).
 */
const HEAP_PER_PEAK_BYTE = 1.3;
const HEAP_PER_TAPE_BYTE = 0.95;

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
  /**
   * Each stage's tape bytes (the distinct buffers it keeps), in chain order; NaN for a stage not
   * measured (never taped).
   */
  tapeBytes: readonly number[];
  /** The most tensor bytes alive at any complete tape: those held beside it plus the tape. */
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
 * // Stages of 100 bytes' tape each, a peak of 500 with one alive, 2000 bytes: 1700 usable,
 * // 650 for the peak, 95 per extra stage: 11 more would fit, the chain has 8 stages.
 * tapedTailFor({ tapeBytes: [100, 100, 100, 100, 100, 100, 100, 100], peakBytes: 500 }, 2000); // 8
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
