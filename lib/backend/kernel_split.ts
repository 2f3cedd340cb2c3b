/**
 * Splitting a SIMD kernel's exports over kernel threads, and the registry of the threads started
 * for each shared heap. Plain TypeScript with no workers of its own: the kernels (`lib/nn`) import
 * this module, and only `heap_threads.ts` (Deno's workers) starts threads and registers them, so a
 * browser bundle of the kernels holds no worker code and every kernel runs on one thread there.
 *
 * @module
 */
import type { HeapThreads } from "./heap_threads.ts";

/** How one export's work is split between threads. */
export interface ExportSplit {
  /** The parameter holding the count that is split (rows, or bytes of a flat loop). */
  count: number;
  /** Each part's count is a multiple of this (an elementwise loop's vector width). */
  multiple?: number;
  /** Per parameter, how far a pointer advances per unit of count (0: the same in every part). */
  strides(args: readonly number[]): readonly number[];
  /** The work per unit of count, for {@link MIN_PARALLEL_WORK} (elements a row, 1 by default). */
  unitWork?(args: readonly number[]): number;
}

/** Below this much work (count × unit work: about 40 µs of a SIMD loop) a call stays on one thread. */
export const MIN_PARALLEL_WORK = 32_768;

// The threads started for each shared heap.
const byMemory = new WeakMap<WebAssembly.Memory, HeapThreads>();

/** Registers `threads` as the kernel threads of `memory`. */
export function setHeapThreads(memory: WebAssembly.Memory, threads: HeapThreads): void {
  byMemory.set(memory, threads);
}

/** The kernel threads started over `memory`, if any. */
export function heapThreadsOf(memory: WebAssembly.Memory): HeapThreads | undefined {
  return byMemory.get(memory);
}

/**
 * `instance`'s exports, with those named in `splits` spread over `threads` (see
 * {@link ExportSplit}); the others, and calls below {@link MIN_PARALLEL_WORK}, as they are.
 */
export function splitExports(
  threads: HeapThreads,
  bytes: Uint8Array,
  instance: WebAssembly.Instance,
  splits: Readonly<Record<string, ExportSplit>>,
): Record<string, (...args: number[]) => void> {
  const moduleIndex = threads.load(bytes);
  const names = Object.keys(instance.exports);
  const exports = instance.exports as Record<string, (...args: number[]) => void>;
  const result: Record<string, (...args: number[]) => void> = { ...exports };
  for (const [name, split] of Object.entries(splits)) {
    const fn = exports[name];
    const exportIndex = names.indexOf(name);
    if (!fn || exportIndex < 0) throw new Error(`the kernel module has no export ${name}`);
    result[name] = (...args: number[]) => {
      const total = args[split.count]!;
      const multiple = split.multiple ?? 1;
      const work = total * (split.unitWork?.(args) ?? 1);
      const parts = Math.min(threads.threads, Math.floor(total / multiple));
      if (work < MIN_PARALLEL_WORK || parts < 2) return fn(...args);
      const strides = split.strides(args);
      const share = Math.ceil(total / multiple / parts) * multiple;
      const calls: number[][] = [];
      for (let start = 0; start < total; start += share) {
        const part = args.map((value, i) => value + (strides[i] ?? 0) * start);
        part[split.count] = Math.min(share, total - start);
        calls.push(part);
      }
      const mine = calls.pop()!;
      threads.run(moduleIndex, exportIndex, calls, () => fn(...mine));
    };
  }
  return result;
}
