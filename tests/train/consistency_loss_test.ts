/** The consistency term's KL divergences, against values computed by hand. */
import { ok as assert } from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { classDistributions, klToTarget, symmetricKl } from "../../lib/train/consistency_loss.ts";
import { assertAllClose, onBackend } from "../_backends.ts";

await onBackend("cpu");

// Two classes over a 1 x 2 grid, batch 1: logits[class][pixel].
const A = tf.tensor4d([[[[0, 1]], [[1, -1]]]]) as Tensor4D; // [1, 2, 1, 2]
const B = tf.tensor4d([[[[2, 0]], [[0, 0]]]]) as Tensor4D;

function softmax2(x: number, y: number): [number, number] {
  const ex = Math.exp(x), ey = Math.exp(y);
  return [ex / (ex + ey), ey / (ex + ey)];
}
const kl = (p: number[], q: number[]) =>
  p.reduce((sum, pi, i) => sum + pi * Math.log(pi / q[i]!), 0);
const pA = [softmax2(0, 1), softmax2(1, -1)];
const pB = [softmax2(2, 0), softmax2(0, 0)];

Deno.test("classDistributions() is the per-pixel softmax over the classes", () => {
  assertAllClose(classDistributions(A).dataSync(), pA.flat(), 1e-6);
});

Deno.test("klToTarget(logits, p) is KL(p ‖ softmax(logits)) averaged over the pixels", () => {
  const value = klToTarget(A, classDistributions(B)).dataSync()[0]!;
  const expected = (kl(pB[0]!, pA[0]!) + kl(pB[1]!, pA[1]!)) / 2;
  assert(Math.abs(value - expected) < 1e-6, `${value} vs ${expected}`);
  // A target with a zero entry adds nothing for it (0 log 0 = 0).
  const onehot = tf.tensor2d([[1, 0], [0, 1]]);
  const withZero = klToTarget(A, onehot).dataSync()[0]!;
  const expectedZero = (-Math.log(pA[0]![0]) - Math.log(pA[1]![1])) / 2;
  assert(Math.abs(withZero - expectedZero) < 1e-6, `${withZero} vs ${expectedZero}`);
});

Deno.test("klToTarget()'s gradient is (softmax(logits) - target) / pixels: the target is a constant", () => {
  const target = classDistributions(B);
  const gradient = tf.grad((logits) => klToTarget(logits as Tensor4D, target))(A);
  // [B, C, h, w] layout: class c, pixel j at index c * 2 + j.
  const expected = [0, 1].flatMap((c) => [0, 1].map((j) => (pA[j]![c]! - pB[j]![c]!) / 2));
  assertAllClose(gradient.dataSync(), expected, 1e-6);
});

Deno.test("symmetricKl() is ½ (KL(p_b ‖ p_a) + KL(p_a ‖ p_b)), symmetric, 0 for equal maps", () => {
  const value = symmetricKl(A, B).dataSync()[0]!;
  const expected = 0.5 *
    ((kl(pB[0]!, pA[0]!) + kl(pB[1]!, pA[1]!)) / 2 + (kl(pA[0]!, pB[0]!) + kl(pA[1]!, pB[1]!)) / 2);
  assert(Math.abs(value - expected) < 1e-6, `${value} vs ${expected}`);
  assert(Math.abs(symmetricKl(B, A).dataSync()[0]! - value) < 1e-7);
  assert(Math.abs(symmetricKl(A, A).dataSync()[0]!) < 1e-7);
});
