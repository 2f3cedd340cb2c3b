/** The graph layers' constant helpers. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { transposeValues } from "../../lib/export/graph_ops.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

Deno.test("transposeValues permutes as tf.transpose does", () => {
  for (
    const [shape, perm] of [[[3, 5], [1, 0]], [[2, 3, 4], [0, 2, 1]], [[2, 3, 4], [2, 0, 1]], [
      [4],
      [0],
    ]]
  ) {
    const values = Float32Array.from({ length: shape!.reduce((a, b) => a * b, 1) }, (_, i) => i);
    const expected = tf.tidy(() => tf.transpose(tf.tensor(values, shape), perm).dataSync());
    assertEquals([...transposeValues(values, shape!, perm!)], [...expected], `${shape} by ${perm}`);
  }
});
