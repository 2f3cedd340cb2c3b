/** Gates: values in (0, 1), per-window repetition, initial value near 0.5. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { gateValue, initialGate, repeatPerWindow } from "../../lib/peft/gate.ts";
import { onBackend, take } from "../_backends.ts";

await onBackend("cpu");

Deno.test("gateValue() is the token mean of sigmoid(Wx + b), one value in (0, 1) per sample", async () => {
  const x = tf.randomNormal([2, 3, 3, 4], 0, 3, "float32", 1) as tf.Tensor4D;
  const weight = tf.tensor2d([[1, -2, 0.5, 3]]);
  const bias = tf.tensor1d([0.3]);
  const values = await take(gateValue(x, { weight, bias }));
  const tokens = await x.data();
  for (let sample = 0; sample < 2; sample++) {
    let sum = 0;
    for (let t = 0; t < 9; t++) {
      const o = (sample * 9 + t) * 4;
      const z = tokens[o]! - 2 * tokens[o + 1]! + 0.5 * tokens[o + 2]! + 3 * tokens[o + 3]! + 0.3;
      sum += 1 / (1 + Math.exp(-z));
    }
    assert(Math.abs(values[sample]! - sum / 9) < 1e-6);
    assert(values[sample]! > 0 && values[sample]! < 1);
  }
  tf.dispose([x, weight, bias]);
});

Deno.test("initialGate() starts near 0.5", async () => {
  const init = initialGate(64, 3, "encoder.blocks.0.gate.lora");
  const x = tf.randomNormal([1, 4, 4, 64], 0, 1, "float32", 2) as tf.Tensor4D;
  const weight = tf.tensor2d(init.weight, [1, 64]);
  const bias = tf.tensor1d(init.bias);
  const [value] = await take(gateValue(x, { weight, bias }));
  assert(Math.abs(value! - 0.5) < 0.02, `initial gate ${value}`);
  tf.dispose([x, weight, bias]);
});

Deno.test("repeatPerWindow() follows the batch-major window order", async () => {
  const perImage = tf.tensor1d([1, 2]);
  assertEquals([...await take(repeatPerWindow(perImage, 3))], [1, 1, 1, 2, 2, 2]);
  perImage.dispose();
});
