import assert from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { detectionLoss } from "../../lib/train/detection_loss.ts";
import { matchingCosts, matchQueries } from "../../lib/train/detection_matching.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softmax = (row: number[]) => {
  const e = row.map((v) => Math.exp(v));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
/** Sigmoid cross-entropy of one pixel, straight from the definition. */
const bce = (x: number, t: number) =>
  -(t * Math.log(sigmoid(x)) + (1 - t) * Math.log(1 - sigmoid(x)));
const dice = (x: number[], t: number[]) => {
  const p = x.map(sigmoid);
  const overlap = p.reduce((s, v, i) => s + v * t[i]!, 0);
  return 1 - (2 * overlap + 1) / (p.reduce((a, b) => a + b, 0) + t.reduce((a, b) => a + b, 0) + 1);
};

Deno.test("matchingCosts() equals the definition: −2 p(class) + 5 BCE + 5 Dice", () => {
  const random = mulberry32(3);
  const queries = 3;
  const channels = 4; // 3 classes + no object
  const pixels = 6;
  const classLogits = Float32Array.from({ length: queries * channels }, () => random() * 4 - 2);
  const maskLogits = Float32Array.from({ length: queries * pixels }, () => random() * 6 - 3);
  const classes = Int32Array.from([2, 0]);
  const masks = Float32Array.from([1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1]);
  const cost = matchingCosts({ queries, classLogits, maskLogits }, { classes, masks });
  for (let q = 0; q < queries; q++) {
    const p = softmax([...classLogits.subarray(q * channels, (q + 1) * channels)]);
    const x = [...maskLogits.subarray(q * pixels, (q + 1) * pixels)];
    for (let j = 0; j < 2; j++) {
      const t = [...masks.subarray(j * pixels, (j + 1) * pixels)];
      const meanBce = x.reduce((s, v, i) => s + bce(v, t[i]!), 0) / pixels;
      const expected = -2 * p[classes[j]!]! + 5 * meanBce + 5 * dice(x, t);
      assert.ok(Math.abs(cost[q * 2 + j]! - expected) < 1e-5, `q ${q} j ${j}`);
    }
  }
});

Deno.test("matchQueries() gives each object the query that predicts it", () => {
  // Query 2 predicts object 0 (class 1, left pixels), query 0 object 1 (class 0, right pixels).
  const classLogits = Float32Array.from([5, 0, 0, 0, 0, 5, 0, 5, 0]); // 2 classes + no object
  const maskLogits = Float32Array.from([-4, -4, 4, 4, 0, 0, 0, 0, 4, 4, -4, -4]);
  const targets = {
    classes: Int32Array.from([1, 0]),
    masks: Float32Array.from([1, 1, 0, 0, 0, 0, 1, 1]),
  };
  assert.deepEqual(matchQueries({ queries: 3, classLogits, maskLogits }, targets), [
    { row: 0, column: 1 },
    { row: 2, column: 0 },
  ]);
});

Deno.test("detectionLoss() matches the loss computed by hand on a 2-image batch", () => {
  // Image 0: two queries, one object (class 0, mask [1, 0]); query 0 predicts it.
  // Image 1: no object: every query's target is "no object".
  const classRows = [[2, 0], [0, 2], [1, -1], [0.5, 0.5]]; // C = 1 plus no object
  const maskRows = [[3, -3], [-1, -1], [0, 2], [1, 1]];
  const output = {
    masks: tf.tensor4d(maskRows.flat(), [2, 2, 1, 2]),
    classLogits: tf.tensor3d(classRows.flat(), [2, 2, 2]),
  };
  const targets = [
    { classes: Int32Array.from([0]), masks: Float32Array.from([1, 0]), height: 1, width: 2 },
    { classes: new Int32Array(0), masks: new Float32Array(0), height: 1, width: 2 },
  ];
  const value = detectionLoss(output, targets);
  const got = value.dataSync()[0]!;
  // CE: query 0 -> class 0 (weight 1), the other three -> no object (weight 0.1).
  const nll = (row: number[], c: number) => -Math.log(softmax(row)[c]!);
  const ce = (nll(classRows[0]!, 0) + 0.1 * (nll(classRows[1]!, 1) + nll(classRows[2]!, 1) +
        nll(classRows[3]!, 1))) / 1.3;
  const maskBce = (bce(3, 1) + bce(-3, 0)) / 2;
  const expected = 2 * ce + 5 * maskBce + 5 * dice([3, -3], [1, 0]);
  assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
  tf.dispose([value, output.masks, output.classLogits]);
});

Deno.test("detectionLoss()'s gradient equals central finite differences", () => {
  const random = mulberry32(9);
  const [batch, queries, height, width, channels] = [2, 4, 3, 3, 3];
  const maskValues = Float32Array.from(
    { length: batch * queries * height * width },
    () => random() * 4 - 2,
  );
  const classValues = Float32Array.from(
    { length: batch * queries * channels },
    () => random() * 2 - 1,
  );
  const targets = [
    {
      classes: Int32Array.from([1, 0]),
      masks: Float32Array.from([1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]),
      height,
      width,
    },
    {
      classes: Int32Array.from([1]),
      masks: Float32Array.from([0, 1, 0, 1, 1, 1, 0, 1, 0]),
      height,
      width,
    },
  ];
  const lossOf = (masks: tf.Tensor, classLogits: tf.Tensor) =>
    detectionLoss(
      { masks: masks as tf.Tensor4D, classLogits: classLogits as tf.Tensor3D },
      targets,
    );
  const masks = tf.tensor4d(maskValues, [batch, queries, height, width]);
  const classLogits = tf.tensor3d(classValues, [batch, queries, channels]);
  const [maskGrad, classGrad] = tf.grads((m, c) => lossOf(m, c))([masks, classLogits]);
  const analytic = [maskGrad!.dataSync(), classGrad!.dataSync()];
  const eps = 1e-2;
  const values = [maskValues, classValues];
  const shapes = [masks.shape, classLogits.shape];
  for (let which = 0; which < 2; which++) {
    for (let i = 0; i < values[which]!.length; i += 3) {
      const at = (delta: number) =>
        tf.tidy(() => {
          const changed = Float32Array.from(values[which]!);
          changed[i] = changed[i]! + delta;
          const m = which === 0 ? tf.tensor(changed, shapes[0]) : masks;
          const c = which === 1 ? tf.tensor(changed, shapes[1]) : classLogits;
          return lossOf(m, c).dataSync()[0]!;
        });
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      const got = analytic[which]![i]!;
      assert.ok(
        Math.abs(got - numeric) < 2e-3 + 1e-2 * Math.abs(numeric),
        `${which ? "class" : "mask"} ${i}: ${got} vs ${numeric}`,
      );
    }
  }
  tf.dispose([masks, classLogits, maskGrad!, classGrad!]);
});

Deno.test("detectionLoss() refuses targets at another resolution", () => {
  const output = {
    masks: tf.zeros([1, 2, 2, 2]) as tf.Tensor4D,
    classLogits: tf.zeros([1, 2, 2]) as tf.Tensor3D,
  };
  assert.throws(
    () =>
      detectionLoss(output, [{
        classes: Int32Array.from([0]),
        masks: new Float32Array(9),
        height: 3,
        width: 3,
      }]),
    /Mask targets are 3x3, the decoder's masks 2x2/,
  );
  tf.dispose([output.masks, output.classLogits]);
});

Deno.test("detectionLoss() on a batch without objects: the class term only, and a zero mask gradient", () => {
  const masks = tf.tensor4d([1, -2, 3, 0.5], [1, 2, 1, 2]);
  const classLogits = tf.tensor3d([0, 1, 2, -1], [1, 2, 2]);
  const empty = [{ classes: new Int32Array(0), masks: new Float32Array(0), height: 1, width: 2 }];
  const value = detectionLoss({ masks, classLogits }, empty);
  const nll = (row: number[]) => -Math.log(softmax(row)[1]!);
  // Both queries' target is "no object"; weights 0.1 each, so the mean is plain.
  const expected = 2 * (nll([0, 1]) + nll([2, -1])) / 2;
  assert.ok(Math.abs(value.dataSync()[0]! - expected) < 1e-5);
  const [maskGrad] = tf.grads((m, c) =>
    detectionLoss({ masks: m as tf.Tensor4D, classLogits: c as tf.Tensor3D }, empty)
  )([masks, classLogits]);
  assert.deepEqual([...maskGrad!.dataSync()], [0, 0, 0, 0]);
  tf.dispose([masks, classLogits, value, maskGrad!]);
});

Deno.test("detectionLoss() takes no loss on a difficult object, nor on the query it claims", () => {
  // One image, three queries, C = 2: query 0 predicts object 0 (class 0, left pixel), query 2
  // predicts object 1 (class 1, right pixel), which is difficult (ignored); query 1 predicts
  // nothing.
  const classRows = [[3, 0, 0], [0, 0, 2], [0, 3, 0]];
  const maskRows = [[3, -3], [-2, -2], [-3, 3]];
  const masks = tf.tensor4d(maskRows.flat(), [1, 3, 1, 2]);
  const classLogits = tf.tensor3d(classRows.flat(), [1, 3, 3]);
  const targets = [{
    classes: Int32Array.from([0, 1]),
    masks: Float32Array.from([1, 0, 0, 1]),
    ignored: Uint8Array.from([0, 1]),
    height: 1,
    width: 2,
  }];
  const lossOf = (m: tf.Tensor, c: tf.Tensor) =>
    detectionLoss({ masks: m as tf.Tensor4D, classLogits: c as tf.Tensor3D }, targets);
  const value = lossOf(masks, classLogits);
  const nll = (row: number[], c: number) => -Math.log(softmax(row)[c]!);
  // Query 0 -> class 0 (weight 1), query 1 -> no object (0.1), query 2: weight 0, no mask term.
  const ce = (nll(classRows[0]!, 0) + 0.1 * nll(classRows[1]!, 2)) / 1.1;
  const expected = 2 * ce + 5 * (bce(3, 1) + bce(-3, 0)) / 2 + 5 * dice([3, -3], [1, 0]);
  assert.ok(
    Math.abs(value.dataSync()[0]! - expected) < 1e-5,
    `${value.dataSync()[0]} vs ${expected}`,
  );
  const [maskGrad, classGrad] = tf.grads(lossOf)([masks, classLogits]);
  // Query 2's predictions do not enter the loss: not as the difficult object's match, not as a
  // false positive.
  assert.ok(maskGrad!.dataSync().subarray(4, 6).every((g) => g === 0));
  assert.ok(classGrad!.dataSync().subarray(6, 9).every((g) => g === 0));
  assert.ok(classGrad!.dataSync().subarray(0, 6).some((g) => g !== 0));
  // Not difficult, the same object is a target: query 2's class and mask are then learned.
  const plainTargets = [{ ...targets[0]!, ignored: undefined }];
  const [plainMask, plainClass] = tf.grads((m: tf.Tensor, c: tf.Tensor) =>
    detectionLoss({ masks: m as tf.Tensor4D, classLogits: c as tf.Tensor3D }, plainTargets)
  )([masks, classLogits]);
  assert.ok(plainMask!.dataSync().subarray(4, 6).every((g) => g !== 0));
  assert.ok(plainClass!.dataSync().subarray(6, 9).every((g) => g !== 0));
  tf.dispose([masks, classLogits, value, maskGrad!, classGrad!, plainMask!, plainClass!]);
});
