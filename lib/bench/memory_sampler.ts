/**
 * Peak memory of a benchmark phase: resident set size and tfjs's tensor bytes.
 *
 * @module
 */
import { backendBytes } from "../backend/backend_memory.ts";
import { tf } from "../backend/tf.ts";

/** What a {@link MemorySampler} saw between `start()` and `stop()`. */
export interface MemoryPeak {
  /** Largest process RSS seen by `Deno.memoryUsage()` (timer and explicit samples), MiB. */
  peakRssMiB: number;
  /**
   * The kernel's own high-water mark of the RSS over the phase (Linux `VmHWM`, reset at `start()`
   * through `/proc/self/clear_refs`); null where that is not available. It catches peaks that
   * happen inside synchronous compute, between samples.
   */
  kernelPeakRssMiB: number | null;
  /**
   * Largest `tf.memory().numBytes` seen, MiB: tfjs counts each tensor's size, so tensors that
   * share one buffer (reshapes, tensors kept for backward) are counted once per tensor.
   */
  peakTensorMiB: number;
  /**
   * What the backend itself holds, MiB: on wasm the size of its heap, which only grows (so this
   * is the process's high-water mark so far, the figure that meets the 4 GiB wasm32 limit); on
   * webgpu the largest `numBytesInGPUAllocated` seen (buffers tfjs holds, pooled ones included);
   * null on cpu.
   */
  backendMiB: number | null;
}

export { backendBytes };

const MIB = 2 ** 20;

/**
 * Samples memory on a timer and at explicit points. The tfjs backends compute synchronously, so
 * the timer only fires between operations that yield; call `sample()` where tensors are at
 * their largest (after a forward pass, before gradients are freed).
 *
 * @example
 * ```ts ignore
 * const sampler = new MemorySampler();
 * sampler.start();
 * const out = encodeImage(weights, images);
 * sampler.sample();
 * out.dispose();
 * const peak = sampler.stop(); // { peakRssMiB, kernelPeakRssMiB, peakTensorMiB }
 * ```
 */
export class MemorySampler {
  #rss = 0;
  #tensorBytes = 0;
  #backendBytes: number | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #kernelPeakReset = false;

  /** Resets the peaks and starts sampling every `intervalMs` milliseconds. */
  start(intervalMs = 10): void {
    this.stopTimer();
    this.#rss = 0;
    this.#tensorBytes = 0;
    this.#backendBytes = null;
    this.#kernelPeakReset = resetKernelPeak();
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now. */
  sample(): void {
    this.#rss = Math.max(this.#rss, Deno.memoryUsage().rss);
    this.#tensorBytes = Math.max(this.#tensorBytes, tf.memory().numBytes);
    const held = backendBytes();
    if (held !== null) this.#backendBytes = Math.max(this.#backendBytes ?? 0, held);
  }

  /** Stops sampling and returns the peaks since `start()`. */
  stop(): MemoryPeak {
    this.sample();
    this.stopTimer();
    const kernelPeak = this.#kernelPeakReset ? readKernelPeak() : null;
    return {
      peakRssMiB: round(this.#rss / MIB),
      kernelPeakRssMiB: kernelPeak === null ? null : round(kernelPeak / MIB),
      peakTensorMiB: round(this.#tensorBytes / MIB),
      backendMiB: this.#backendBytes === null ? null : round(this.#backendBytes / MIB),
    };
  }

  /** Stops the timer without reading the peaks (for clean-up on errors). */
  stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function resetKernelPeak(): boolean {
  try {
    // "5" resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return readKernelPeak() !== null;
  } catch {
    return false;
  }
}

function readKernelPeak(): number | null {
  try {
    const match = Deno.readTextFileSync("/proc/self/status").match(/^VmHWM:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
