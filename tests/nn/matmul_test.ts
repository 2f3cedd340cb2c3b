import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { matMul } from "../../lib/nn/matmul.ts";
import { assertAllClose, availableBackends, onBackend, take } from "../_backends.ts";

Deno.test("matMul() equals tf.matMul, values and gradients, on every backend", async () => {
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[5, 3], [3, 4], false, false],
    [[5, 3], [4, 3], false, true],
    [[2, 3, 5, 3], [2, 3, 4, 3], false, true],
    [[2, 3, 5], [2, 3, 4], true, false],
  ];
  for (const [shapeA, shapeB, transposeA, transposeB] of cases) {
    await onBackend("cpu");
    const a = tf.randomNormal(shapeA, 0, 1, "float32", 1);
    const b = tf.randomNormal(shapeB, 0, 1, "float32", 2);
    const f = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.sin(tf.matMul(x, y, transposeA, transposeB)));
    const expectedValue = await take(tf.matMul(a, b, transposeA, transposeB));
    const [expectedA, expectedB] = tf.grads(f)([a, b]);
    const gradA = await take(expectedA!);
    const gradB = await take(expectedB!);
    for (const backend of await availableBackends()) {
      await onBackend(backend);
      const before = tf.memory().numTensors;
      assertAllClose(
        await take(matMul(a, b, transposeA, transposeB)),
        expectedValue,
        1e-4,
        backend,
      );
      const g = (x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.sin(matMul(x, y, transposeA, transposeB)));
      const [ga, gb] = tf.grads(g)([a, b]);
      assertAllClose(await take(ga!), gradA, 1e-4, `${backend} dA`);
      assertAllClose(await take(gb!), gradB, 1e-4, `${backend} dB`);
      assertEquals(tf.memory().numTensors, before, `${backend}: tensors left behind`);
    }
    await onBackend("cpu");
    tf.dispose([a, b]);
  }
});
