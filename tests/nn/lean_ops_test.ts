/**
 * The lean ops give tfjs's values bit for bit and its gradients, and keep less for the backward
 * pass; the frozen layers apply only to tensors declared frozen.
 */
import { ok as assert, throws } from "node:assert/strict";
import { type Tensor, tf } from "../../lib/backend/tf.ts";
import {
  frozenLayerNorm,
  frozenLinear,
  isFrozen,
  leanAdd,
  leanConcat,
  leanPad,
  leanReshape,
  leanScaledMatMul,
  leanSlice,
  markFrozen,
} from "../../lib/nn/lean_ops.ts";
import { linear } from "../../lib/nn/linear.ts";
import { matMul } from "../../lib/nn/matmul.ts";
import { assertSameRun, maxAbsDiff, onBackend } from "../_backends.ts";

/** Layer norm as tfjs ops (layerNorm() itself is one SIMD kernel on wasm). */
function composedLayerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, x.shape.length - 1, true);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normalised, weight), bias);
  });
}

const random = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

/** Value, gradients w.r.t. `xs` of sum(f · weighting), and the bytes its tape kept. */
function taped(f: (...xs: Tensor[]) => Tensor, xs: Tensor[], weighting: Tensor) {
  let kept = 0;
  const before = tf.memory().numBytes;
  const { value, grads } = tf.engine().gradients(() => {
    const y = tf.tidy(() => f(...xs));
    kept = tf.memory().numBytes - before - y.size * 4;
    return tf.tidy(() => tf.sum(tf.mul(y, weighting))) as tf.Scalar;
  }, xs);
  return {
    value: value.dataSync()[0]!,
    grads: grads.map((g) => g.dataSync()),
    kept,
    dispose: () => tf.dispose([value, ...grads]),
  };
}

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`${backend}: lean ops match tfjs's values and gradients and keep less`, async () => {
    await onBackend(backend);
    const x = random([6, 5, 8], 1);
    const row = random([8], 2);
    const column = random([6, 5, 1], 3);
    const weight = random([4, 8], 4);
    const bias = random([4], 5);
    const normWeight = random([8], 6);
    const normBias = random([8], 7);
    const keys = random([6, 3, 8], 8);
    const cases: [
      string,
      (...xs: Tensor[]) => Tensor,
      (...xs: Tensor[]) => Tensor,
      Tensor[],
      number[],
    ][] = [
      ["add, broadcast row", (a, b) => tf.add(a, b), leanAdd, [x, row], [6, 5, 8]],
      ["add, broadcast column", (a, b) => tf.add(a, b), leanAdd, [x, column], [6, 5, 8]],
      ["reshape", (a) => tf.mul(a.reshape([30, 8]), 2), (a) => tf.mul(leanReshape(a, [30, 8]), 2), [
        x,
      ], [30, 8]],
      ["concat", (a, b) => tf.concat([a, b], 2), (a, b) => leanConcat([a, b], 2), [x, column], [
        6,
        5,
        9,
      ]],
      // Pad and slice differentiate a product with x, as in a block: the pad's (slice's) input
      // is otherwise kept by nothing.
      [
        "pad",
        (a) => tf.pad(tf.mul(a, 2), [[0, 0], [1, 2], [0, 3]]),
        (a) => leanPad(tf.mul(a, 2), [[0, 0], [1, 2], [0, 3]]),
        [x],
        [6, 8, 11],
      ],
      [
        "slice",
        (a) => tf.slice(tf.mul(a, 2), [1, 0, 2], [4, 5, 3]),
        (a) => leanSlice(tf.mul(a, 2), [1, 0, 2], [4, 5, 3]),
        [x],
        [4, 5, 3],
      ],
      [
        "scaled product",
        (a, b) => matMul(tf.mul(a, 0.25), b, false, true),
        (a, b) => leanScaledMatMul(a, b, 0.25),
        [x, keys],
        [6, 5, 3],
      ],
      ["linear", (a) => linear(a, weight, bias), (a) => frozenLinear(a, weight, bias), [x], [
        6,
        5,
        4,
      ]],
      [
        "layer norm",
        (a) => composedLayerNorm(a, normWeight, normBias, 1e-6),
        (a) => frozenLayerNorm(a, normWeight, normBias, 1e-6),
        [x],
        [6, 5, 8],
      ],
    ];
    for (const [name, plainOp, leanOp, inputs, outShape] of cases) {
      const weighting = random(outShape, 9);
      const plainValue = tf.tidy(() => plainOp(...inputs));
      const leanValue = tf.tidy(() => leanOp(...inputs));
      // The same tfjs ops compute the value (bit for bit in a process of its own).
      assertSameRun(leanValue.dataSync(), plainValue.dataSync(), name);
      const plain = taped(plainOp, inputs, weighting);
      const lean = taped(leanOp, inputs, weighting);
      plain.grads.forEach((g, i) => {
        const scale = Math.max(...g.map(Math.abs));
        assert(maxAbsDiff(lean.grads[i]!, g) <= 1e-5 * Math.max(1, scale), `${name}, input ${i}`);
      });
      assert(
        lean.kept < plain.kept || (name === "concat" && lean.kept <= plain.kept),
        `${name}: kept ${lean.kept} B vs ${plain.kept} B`,
      );
      tf.dispose([plainValue, leanValue]);
      plain.dispose();
      lean.dispose();
    }
    tf.dispose([x, row, column, weight, bias, normWeight, normBias, keys]);
  });
}

Deno.test("leanSlice() refuses a slice outside its input", async () => {
  await onBackend("cpu");
  const x = tf.ones([3, 4]);
  throws(() => leanSlice(x, [1, 0], [3, 4]), /outside \[3,4\]/);
  x.dispose();
});

Deno.test("frozen layers only for tensors declared frozen: tf.grads still reaches any other weight", async () => {
  await onBackend("cpu");
  const x = random([3, 4], 1);
  const weight = random([2, 4], 2);
  assert(!isFrozen(weight) && isFrozen(undefined));
  // Undeclared: linear() keeps tfjs's gradient for the weight: dW = dyᵀ x with dy = 1.
  const [dWeight] = tf.grads((w: Tensor) => tf.sum(linear(x, w)))([weight]);
  const expected = tf.tidy(() => tf.matMul(tf.ones([3, 2]), x, true, false));
  assert(maxAbsDiff(dWeight!.dataSync(), expected.dataSync()) < 1e-5);
  markFrozen([weight]);
  assert(isFrozen(weight));
  tf.dispose([x, weight, dWeight!, expected]);
});
