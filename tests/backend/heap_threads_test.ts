/**
 * Kernel threads over a shared heap: each SIMD kernel split over two threads gives the very bits
 * of one thread (GELU with a count that leaves a ragged last part, the biased softmax with
 * prefixes and statistics, its one-pass recomputation and backward step, LayerNorm both ways),
 * small calls stay on the main thread, and the thread-count setting parses as documented.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  HeapThreads,
  heapThreadsOf,
  MIN_PARALLEL_WORK,
  setHeapThreads,
  threadCountFromEnv,
} from "../../lib/backend/heap_threads.ts";
import { attentionSimd } from "../../lib/encoder/attention_simd.ts";
import { geluSimd } from "../../lib/nn/gelu_simd.ts";
import { layerNormSimd } from "../../lib/nn/layer_norm_simd.ts";

const PAGES = 256; // 16 MiB

/** Two shared memories with the same random contents: one with kernel threads, one without. */
async function memories(): Promise<{
  threaded: WebAssembly.Memory;
  single: WebAssembly.Memory;
  threads: HeapThreads;
}> {
  const threaded = new WebAssembly.Memory({ initial: PAGES, maximum: 65536, shared: true });
  const single = new WebAssembly.Memory({ initial: PAGES, maximum: 65536, shared: true });
  const values = new Float32Array(threaded.buffer);
  let seed = 12345;
  for (let i = 0; i < values.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    values[i] = (seed / 2 ** 32 - 0.5) * 8;
  }
  new Float32Array(single.buffer).set(values);
  const threads = await HeapThreads.start(threaded, 2);
  setHeapThreads(threaded, threads);
  return { threaded, single, threads };
}

function sameBits(a: WebAssembly.Memory, b: WebAssembly.Memory, from: number, bytes: number) {
  const x = new Uint32Array(a.buffer, from, bytes / 4);
  const y = new Uint32Array(b.buffer, from, bytes / 4);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`word ${i} from byte ${from} differs: ${x[i]} vs ${y[i]}`);
  }
}

const MiB = 1 << 20;

Deno.test("kernel threads: every SIMD kernel split over two threads gives one thread's bits", async () => {
  const { threaded, single, threads } = await memories();
  assert(heapThreadsOf(threaded) === threads);
  assert(heapThreadsOf(single) === undefined);

  // GELU: 300,007 values, so the last part is not a multiple of the others; the scalar tail is
  // the caller's (gelu.ts), the loops take multiples of 4 values.
  const count = 300_004;
  const before = threads.workerParts;
  for (const memory of [threaded, single]) {
    const simd = geluSimd(memory)!;
    simd.gelu(0, 2 * MiB, count);
    simd.geluGradient(0, 4 * MiB, 6 * MiB, count);
  }
  assert(threads.workerParts === before + 2, "both GELU calls were split");
  sameBits(threaded, single, 2 * MiB, count * 4);
  sameBits(threaded, single, 6 * MiB, count * 4);

  // The biased softmax: 301 rows of 3 prefix logits + 16 x 20 keys, with statistics; then its
  // recomputation from those statistics and its backward step (delta from the row, and given).
  const [rows, prefix, h, w] = [301, 3, 16, 20];
  const total = prefix + h * w;
  const at = { logits: 8 * MiB, bh: 9 * MiB, bw: 9.5 * MiB, out: 10 * MiB, stats: 11 * MiB };
  const back = { dP: 8.5 * MiB, delta: 11.5 * MiB, dS: 12 * MiB, dh: 13 * MiB, dw: 13.5 * MiB };
  for (const memory of [threaded, single]) {
    const simd = attentionSimd(memory)!;
    simd.biasedSoftmax(at.logits, at.bh, at.bw, at.out, rows, prefix, h, w, at.stats, 1);
    simd.biasedExp(at.logits, at.bh, at.bw, at.stats, 14 * MiB, rows, prefix, h, w);
    simd.softmaxBackward(at.out, back.dP, 0, back.dS, back.dh, back.dw, rows, prefix, h, w, 1);
    simd.softmaxBackward(
      at.out,
      back.dP,
      back.delta,
      15 * MiB,
      15.5 * MiB,
      15.75 * MiB,
      rows,
      prefix,
      h,
      w,
      0,
    );
  }
  sameBits(threaded, single, at.out, rows * total * 4);
  sameBits(threaded, single, at.stats, rows * 8);
  sameBits(threaded, single, 14 * MiB, rows * total * 4);
  sameBits(threaded, single, back.dS, rows * total * 4);
  sameBits(threaded, single, back.dh, rows * h * 4);
  sameBits(threaded, single, back.dw, rows * w * 4);
  sameBits(threaded, single, 15 * MiB, rows * total * 4);
  sameBits(threaded, single, 15.5 * MiB, rows * h * 4);
  sameBits(threaded, single, 15.75 * MiB, rows * w * 4);

  // LayerNorm over 999 rows of 768, forward and backward.
  for (const memory of [threaded, single]) {
    const simd = layerNormSimd(memory)!;
    simd.layerNorm(0, 5 * MiB, 5.5 * MiB, 7 * MiB, 999, 768, 1e-6);
    simd.layerNormGradient(0, 5 * MiB, 2 * MiB, 7 * MiB + 999 * 768 * 4, 999, 768, 1e-6);
  }
  sameBits(threaded, single, 7 * MiB, 2 * 999 * 768 * 4);
  assert(threads.workerParts === before + 8, `${threads.workerParts - before} parts split`);
});

Deno.test("kernel threads: a call below the threshold stays on the main thread", async () => {
  const { threaded, threads } = await memories();
  const simd = geluSimd(threaded)!;
  const before = threads.workerParts;
  simd.gelu(0, 2 * MiB, MIN_PARALLEL_WORK - 4);
  assertEquals(threads.workerParts, before);
  simd.gelu(0, 2 * MiB, MIN_PARALLEL_WORK * 4);
  assertEquals(threads.workerParts, before + 1);
});

Deno.test("kernel threads need a shared memory", async () => {
  let failed = false;
  await HeapThreads.start(new WebAssembly.Memory({ initial: 1 }), 2).catch(() => failed = true);
  assert(failed);
});

Deno.test("MOPEFT_KERNEL_THREADS: every core by default, off, a count, capped", () => {
  const parse = (value: string | undefined, cores = 2) =>
    threadCountFromEnv("MOPEFT_KERNEL_THREADS", value, cores, "auto", 8);
  assertEquals(parse(undefined), 2);
  assertEquals(parse(""), 2);
  assertEquals(parse("auto", 16), 8);
  for (const off of ["off", "0", "1", " OFF "]) assertEquals(parse(off), 1);
  assertEquals(parse("3"), 3);
  throws(() => parse("two"), /MOPEFT_KERNEL_THREADS must be off, auto or a whole number/);
  throws(() => parse("-1"));
});
