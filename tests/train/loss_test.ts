import { tf } from "../../lib/backend/tf.ts";
import { segmentationLoss } from "../../lib/train/loss.ts";
import { interpolationMatrix, upsampleLogits } from "../../lib/train/upsample.ts";
import { assertAllClose, onBackend, take } from "../_backends.ts";

await onBackend("cpu");

function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

Deno.test("segmentationLoss() matches hand-computed cross-entropy and Dice, ignoring 255", async () => {
  // Pixel 0: logits (0, ln 3) -> p = (1/4, 3/4), label 1. Pixel 1: ignored.
  const logits = tf.tensor4d([0, 0, Math.log(3), 5], [1, 2, 1, 2]);
  const labels = tf.tensor3d([1, 255], [1, 1, 2], "int32");
  const eps = 1e-5;
  const ce = -Math.log(3 / 4);
  const dice0 = 1 - eps / (1 / 16 + eps);
  const dice1 = 1 - (1.5 + eps) / (9 / 16 + 1 + eps);
  const dice = (dice0 + dice1) / 2;
  const cases = [
    { weights: { crossEntropy: 1, dice: 0 }, expected: ce },
    { weights: { crossEntropy: 0, dice: 1 }, expected: dice },
    { weights: {}, expected: 0.2 * ce + 0.8 * dice },
  ];
  for (const { weights, expected } of cases) {
    assertAllClose(
      await take(segmentationLoss(logits, labels, weights)),
      [expected],
      1e-6,
      JSON.stringify(weights),
    );
  }
  tf.dispose([logits, labels]);
});

Deno.test("segmentationLoss() is 0 when every pixel is ignored", async () => {
  const logits = tf.randomNormal([1, 3, 2, 2]) as tf.Tensor4D;
  const labels = tf.fill([1, 8, 8], 255, "int32") as tf.Tensor3D;
  assertAllClose(await take(segmentationLoss(logits, labels)), [0], 1e-7);
  tf.dispose([logits, labels]);
});

Deno.test("upsampleLogits() equals tf.image.resizeBilinear with half-pixel centres", async () => {
  const before = tf.memory().numTensors;
  const logits = tf.randomNormal([2, 3, 4, 5], 0, 1, "float32", 3) as tf.Tensor4D;
  const ours = upsampleLogits(logits, 16, 20);
  const reference = tf.tidy(() =>
    tf.image.resizeBilinear(logits.transpose([0, 2, 3, 1]) as tf.Tensor4D, [16, 20], false, true)
      .transpose([0, 3, 1, 2])
  );
  assertAllClose(await take(ours), await take(reference), 1e-5);
  const m = interpolationMatrix(2, 4);
  assertAllClose(await take(m), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1], 0);
  logits.dispose();
  if (tf.memory().numTensors !== before) throw new Error("tensors leaked");
});

Deno.test("segmentationLoss() gradient matches central finite differences", async () => {
  const next = random(7);
  const shape: [number, number, number, number] = [2, 3, 2, 2];
  const values = Float32Array.from({ length: 24 }, () => 2 * next() - 1);
  const labelValues = Int32Array.from({ length: 2 * 8 * 8 }, () => {
    const r = next();
    return r < 0.15 ? 255 : Math.floor(next() * 3);
  });
  const labels = tf.tensor3d(labelValues, [2, 8, 8], "int32");
  const lossOf = (x: tf.Tensor4D) => segmentationLoss(x, labels);
  const x = tf.tensor4d(values, shape);
  const gradient = await take(tf.grad((t: tf.Tensor) => lossOf(t as tf.Tensor4D))(x));
  const h = 1e-2;
  const numeric = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const plus = values.slice();
    plus[i]! += h;
    const minus = values.slice();
    minus[i]! -= h;
    const up = tf.tensor4d(plus, shape);
    const down = tf.tensor4d(minus, shape);
    const a = (await take(lossOf(up)))[0]!;
    const b = (await take(lossOf(down)))[0]!;
    numeric[i] = (a - b) / (2 * h);
    tf.dispose([up, down]);
  }
  assertAllClose(gradient, numeric, 2e-3, "d loss / d logits");
  tf.dispose([x, labels]);
});
