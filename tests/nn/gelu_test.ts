import { ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { erfApprox, gelu } from "../../lib/nn/gelu.ts";
import { availableBackends, maxAbsDiff, onBackend } from "../_backends.ts";

/** erf by its Maclaurin series (|x| < 3) or continued fraction for erfc, in float64. */
function erfReference(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= -a * a / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  let fraction = 0;
  for (let k = 60; k >= 1; k--) fraction = (k / 2) / (a + fraction);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction);
  return Math.sign(x) * (1 - erfc);
}

Deno.test("erfApprox stays within 4e-7 of erf on [-6, 6]", () => {
  let worst = 0;
  for (let i = -60000; i <= 60000; i++) {
    const x = i / 10000;
    worst = Math.max(worst, Math.abs(erfApprox(x) - erfReference(x)));
  }
  assert(worst < 4e-7, `max error ${worst}`);
  // The reference itself, at known values.
  assert(Math.abs(erfReference(1) - 0.8427007929497149) < 1e-15);
  assert(Math.abs(erfReference(3.5) - 0.9999992569016276) < 1e-15);
});

const composite = (x: tf.Tensor) =>
  tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

for (const backend of await availableBackends()) {
  Deno.test(`gelu on ${backend}: values and gradient equal the composed erf form`, async () => {
    await onBackend(backend);
    const x = tf.tensor1d(Array.from({ length: 801 }, (_, i) => (i - 400) / 50)); // [-8, 8]
    const dy = tf.randomNormal([801], 0, 1, "float32", 7);
    const [value, reference, gradient, referenceGradient] = tf.tidy(() => [
      gelu(x),
      composite(x),
      tf.grad((t: tf.Tensor) => gelu(t))(x, dy),
      tf.grad((t: tf.Tensor) => composite(t))(x, dy),
    ]);
    // Against float64 by hand, at a few points: gelu(1) = Φ(1), gelu(-2) = -2 Φ(-2).
    const values = await value!.data();
    assert(Math.abs(values[450]! - 0.8413447460685429) < 1e-6, `gelu(1) = ${values[450]}`);
    assert(Math.abs(values[300]! - -0.04550026389635842) < 1e-6, `gelu(-2) = ${values[300]}`);
    assert(maxAbsDiff(values, await reference!.data()) < 3e-6);
    assert(maxAbsDiff(await gradient!.data(), await referenceGradient!.data()) < 3e-6);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => tf.grad((t: tf.Tensor) => gelu(t))(x, dy)).dispose();
    }
    assert(tf.memory().numTensors === before, "gelu leaks tensors");
    tf.dispose([x, dy, value!, reference!, gradient!, referenceGradient!]);
  });
}
