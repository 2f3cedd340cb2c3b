/**
 * The WebAssembly SIMD GELU loops: against float64 by hand, over the whole float range the
 * encoder meets (erf clamped beyond ±4·√2, exp underflowing), in place on a memory they import;
 * and through tfjs on wasm for lengths that leave a few values to the scalar tail.
 */
import { ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { gelu } from "../../lib/nn/gelu.ts";
import { geluSimd, geluSimdModuleBytes } from "../../lib/nn/gelu_simd.ts";
import { maxAbsDiff, onBackend } from "../_backends.ts";

/** Φ(x) in float64 (Maclaurin series of erf for |x/√2| < 3, else its continued fraction). */
function normalCdf(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2;
  let erf: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= -z * z / n;
      sum += term / (2 * n + 1);
    }
    erf = sum * 2 / Math.sqrt(Math.PI);
  } else {
    let fraction = 0;
    for (let k = 60; k >= 1; k--) fraction = (k / 2) / (z + fraction);
    erf = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + fraction);
  }
  return 0.5 * (1 + Math.sign(x) * erf);
}

Deno.test("SIMD gelu and its gradient within 2e-6 of float64 on [-30, 30], in place", () => {
  for (const fusedMultiplyAdd of [true, false]) {
    const bytes = geluSimdModuleBytes({ fusedMultiplyAdd });
    assert(WebAssembly.validate(bytes), `the module (fused ${fusedMultiplyAdd}) is not valid`);
  }
  const count = 6004;
  const memory = new WebAssembly.Memory({ initial: 2 });
  const simd = geluSimd(memory);
  assert(simd, "no WebAssembly SIMD");
  const heap = new Float32Array(memory.buffer);
  const part = (k: number) => heap.subarray(k * count, (k + 1) * count);
  const [x, dy, out] = [part(0), part(1), part(2)];
  for (let i = 0; i < count; i++) {
    x[i] = (i - count / 2) / 100; // [-30, 30) in steps of 0.01
    dy[i] = Math.cos(i);
  }
  simd.gelu(0, 8 * count, count);
  let worst = 0;
  for (let i = 0; i < count; i++) {
    worst = Math.max(worst, Math.abs(out[i]! - x[i]! * normalCdf(x[i]!)));
  }
  assert(worst < 2e-6 * 30, `gelu: max error ${worst}`);
  // Relative to the value's size: |gelu(x)| reaches 30 here.
  let worstRelative = 0;
  for (let i = 0; i < count; i++) {
    const expected = x[i]! * normalCdf(x[i]!);
    worstRelative = Math.max(
      worstRelative,
      Math.abs(out[i]! - expected) / Math.max(1, Math.abs(expected)),
    );
  }
  assert(worstRelative < 2e-6, `gelu: max relative error ${worstRelative}`);
  simd.geluGradient(0, 4 * count, 8 * count, count);
  worst = 0;
  for (let i = 0; i < count; i++) {
    const v = x[i]!;
    const expected = dy[i]! * (normalCdf(v) + v * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI));
    worst = Math.max(worst, Math.abs(out[i]! - expected));
  }
  assert(worst < 2e-6, `gradient: max error ${worst}`);
  // By hand: gelu(1) = Φ(1); d/dx gelu at 0 is 1/2; far out the gradient is dy (x > 0) or 0.
  assert(
    Math.abs(heap[2 * count + count / 2 + 100]! - dy[count / 2 + 100]! * 1.0833154705876864) < 2e-6,
  );
  assert(x[count / 2] === 0 && Math.abs(out[count / 2]! - dy[count / 2]! / 2) < 1e-7);
  assert(Math.abs(out[0]!) < 1e-7 && Math.abs(out[count - 1]! - dy[count - 1]!) < 1e-7);
});

Deno.test("gelu on wasm at lengths 1 to 9: the SIMD loop and the scalar tail agree with the composed form", async () => {
  await onBackend("wasm");
  for (let length = 1; length <= 9; length++) {
    const x = tf.linspace(-3, 3, length);
    const dy = tf.randomNormal([length], 0, 1, "float32", length);
    const composed = (t: tf.Tensor) =>
      tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1));
    const [value, reference, gradient, referenceGradient] = tf.tidy(() => [
      gelu(x),
      composed(x),
      tf.grad((t: tf.Tensor) => gelu(t))(x, dy),
      tf.grad((t: tf.Tensor) => composed(t))(x, dy),
    ]);
    assert(maxAbsDiff(await value!.data(), await reference!.data()) < 3e-6, `length ${length}`);
    assert(
      maxAbsDiff(await gradient!.data(), await referenceGradient!.data()) < 3e-6,
      `gradient, length ${length}`,
    );
    tf.dispose([x, dy, value!, reference!, gradient!, referenceGradient!]);
  }
});
