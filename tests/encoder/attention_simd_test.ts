/**
 * The chunked attention's SIMD loops (biased softmax, its one-pass recomputation from row
 * statistics, and its backward step) against float64 by hand, for layouts that exercise every scalar tail (prefix lengths not a multiple of 4, key rows
 * of 5 and 14), with large logits (the max shift) and on rows that span several.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { attentionSimd, attentionSimdModuleBytes } from "../../lib/encoder/attention_simd.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";

interface Case {
  rows: number;
  prefix: number;
  h: number;
  w: number;
}

const CASES: Case[] = [
  { rows: 3, prefix: 0, h: 4, w: 8 },
  { rows: 2, prefix: 3, h: 6, w: 5 },
  { rows: 5, prefix: 10, h: 14, w: 14 },
  { rows: 1, prefix: 1, h: 1, w: 1 },
];

/** float64 reference: softmax of the biased row, then dS and the biases' sums. */
function reference(
  logits: Float32Array,
  biasH: Float32Array,
  biasW: Float32Array,
  dP: Float32Array,
  delta: Float32Array,
  { rows, prefix, h, w }: Case,
) {
  const total = prefix + h * w;
  const p = new Float64Array(rows * total);
  const dS = new Float64Array(rows * total);
  const dBiasH = new Float64Array(rows * h);
  const dBiasW = new Float64Array(rows * w);
  const biased = new Float64Array(rows * total);
  for (let i = 0; i < rows; i++) {
    const row = biased.subarray(i * total, (i + 1) * total);
    for (let j = 0; j < total; j++) {
      row[j] = logits[i * total + j]!;
      if (j >= prefix) {
        const ky = Math.floor((j - prefix) / w);
        const kx = (j - prefix) % w;
        row[j]! += biasH[i * h + ky]! + biasW[i * w + kx]!;
      }
    }
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < total; j++) sum += Math.exp(row[j]! - max);
    for (let j = 0; j < total; j++) {
      const value = Math.exp(row[j]! - max) / sum;
      p[i * total + j] = value;
      const gradient = value * (dP[i * total + j]! - delta[i]!);
      dS[i * total + j] = gradient;
      if (j >= prefix) {
        dBiasH[i * h + Math.floor((j - prefix) / w)]! += gradient;
        dBiasW[i * w + (j - prefix) % w]! += gradient;
      }
    }
  }
  return { p, dS, dBiasH, dBiasW, biased };
}

function maxDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

Deno.test("SIMD biased softmax (with its row statistics, recomputed bit for bit) and its backward step equal float64 for any prefix and key grid", () => {
  for (const fusedMultiplyAdd of [true, false]) {
    const bytes = attentionSimdModuleBytes({ fusedMultiplyAdd });
    assert(WebAssembly.validate(bytes), `the module (fused ${fusedMultiplyAdd}) is not valid`);
  }
  const memory = new WebAssembly.Memory({ initial: 4 });
  const simd = attentionSimd(memory);
  assert(simd, "no WebAssembly SIMD");
  const random = mulberry32(7);
  for (const layout of CASES) {
    const { rows, prefix, h, w } = layout;
    const total = prefix + h * w;
    // Consecutive regions of the heap, each at a 16-byte boundary.
    let next = 0;
    const region = (length: number) => {
      const view = new Float32Array(memory.buffer, next, length);
      next += Math.ceil(length / 4) * 16;
      return view;
    };
    const logits = region(rows * total);
    const biasH = region(rows * h);
    const biasW = region(rows * w);
    const p = region(rows * total);
    const dP = region(rows * total);
    const delta = region(rows);
    const dS = region(rows * total);
    const dBiasH = region(rows * h);
    const dBiasW = region(rows * w); // filled with NaN: must be overwritten, not accumulated into
    const stats = region(rows * 2);
    const again = region(rows * total);
    // Logits up to ±40 (the shift by the max matters), biases ±3, one very negative logit.
    for (let i = 0; i < logits.length; i++) logits[i] = (random() - 0.5) * 80;
    logits[0] = -1e4;
    for (let i = 0; i < biasH.length; i++) biasH[i] = (random() - 0.5) * 6;
    for (let i = 0; i < biasW.length; i++) biasW[i] = (random() - 0.5) * 6;
    for (let i = 0; i < dP.length; i++) dP[i] = random() - 0.5;
    for (let i = 0; i < delta.length; i++) delta[i] = random() - 0.5;
    const want = reference(logits, biasH, biasW, dP, delta, layout);
    const softmax = (writeStats: 0 | 1) =>
      simd.biasedSoftmax(
        logits.byteOffset,
        biasH.byteOffset,
        biasW.byteOffset,
        p.byteOffset,
        rows,
        prefix,
        h,
        w,
        stats.byteOffset,
        writeStats,
      );
    softmax(1);
    const label = JSON.stringify(layout);
    assert(maxDiff(p, want.p) < 1e-6, `${label}: softmax off by ${maxDiff(p, want.p)}`);
    for (let i = 0; i < rows; i++) {
      const rowSum = p.subarray(i * total, (i + 1) * total).reduce((a, b) => a + b, 0);
      assert(Math.abs(rowSum - 1) < 1e-5, `${label}: row ${i} sums to ${rowSum}`);
      const row = want.biased.subarray(i * total, (i + 1) * total);
      const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
      const sum = row.reduce((a, b) => a + Math.exp(b - max), 0);
      assert(Math.abs(stats[2 * i]! - max) <= 1e-5 * Math.abs(max), `${label}: row ${i}'s max`);
      assert(Math.abs(stats[2 * i + 1]! * sum - 1) < 1e-5, `${label}: row ${i}'s 1 / sum`);
    }
    // Recomputed from the statistics: the same floats, bit for bit.
    again.fill(NaN);
    simd.biasedExp(
      logits.byteOffset,
      biasH.byteOffset,
      biasW.byteOffset,
      stats.byteOffset,
      again.byteOffset,
      rows,
      prefix,
      h,
      w,
    );
    const firstDifferent = again.findIndex((value, i) => !Object.is(value, p[i]));
    assertEquals(firstDifferent, -1, `${label}: biasedExp differs at ${firstDifferent}`);
    // Without writeStats the statistics stay as they were.
    stats.fill(7);
    softmax(0);
    assert(stats.every((value) => value === 7), `${label}: stats written without writeStats`);
    // The backward step from the reference probabilities, to test it alone: with delta given,
    // and with delta computed from the row (Σ p dP, the softmax's own backward step).
    p.set(want.p);
    const rowDeltas = Float32Array.from({ length: rows }, (_, i) => {
      let sum = 0;
      for (let j = 0; j < total; j++) sum += want.p[i * total + j]! * dP[i * total + j]!;
      return sum;
    });
    for (const rowDelta of [0, 1] as const) {
      const expected = rowDelta ? reference(logits, biasH, biasW, dP, rowDeltas, layout) : want;
      dBiasW.fill(NaN);
      simd.softmaxBackward(
        p.byteOffset,
        dP.byteOffset,
        rowDelta ? 0 : delta.byteOffset,
        dS.byteOffset,
        dBiasH.byteOffset,
        dBiasW.byteOffset,
        rows,
        prefix,
        h,
        w,
        rowDelta,
      );
      const what = `${label}, rowDelta ${rowDelta}`;
      assert(maxDiff(dS, expected.dS) < 1e-6, `${what}: dS off by ${maxDiff(dS, expected.dS)}`);
      assert(maxDiff(dBiasH, expected.dBiasH) < 1e-5, `${what}: dBiasH off`);
      assert(maxDiff(dBiasW, expected.dBiasW) < 1e-5, `${what}: dBiasW off`);
    }
  }
});
