/**
 * The relative-position biases (a custom-gradient op) against the same sums written as plain
 * broadcast products, whose gradients tfjs derives itself; and what their tape keeps.
 */
import { ok as assert } from "node:assert/strict";
import { type Tensor, tf } from "../../lib/backend/tf.ts";
import { markFrozen } from "../../lib/nn/lean_ops.ts";
import { relativeBiases, relativeEmbeddings } from "../../lib/encoder/relative_position.ts";
import { maxAbsDiff, onBackend } from "../_backends.ts";

const random = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

/** relH[b, y, x, ky] = Σ_d q[b, y, x, d] · embH[y, ky, d] (and relW along x), by broadcasting. */
function broadcastBiases(q: Tensor, tableH: Tensor, tableW: Tensor, [h, w]: [number, number]) {
  const [n, , d] = q.shape as [number, number, number];
  const grid = q.reshape([n, h, w, 1, d]);
  const embH = relativeEmbeddings(h, h, tableH).reshape([1, h, 1, h, d]);
  const embW = relativeEmbeddings(w, w, tableW).reshape([1, 1, w, w, d]);
  return [
    tf.sum(tf.mul(grid, embH), 4).reshape([n, h * w, h]),
    tf.sum(tf.mul(grid, embW), 4).reshape([n, h * w, w]),
  ];
}

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`${backend}: relativeBiases() values and gradients (queries, both tables) equal plain products'`, async () => {
    await onBackend(backend);
    // h != w, and tables of other lengths than 2h-1 / 2w-1 (resized by interpolation).
    for (const [size, lengths] of [[[3, 4], [5, 7]], [[4, 3], [9, 4]]] as const) {
      const [h, w] = size as unknown as [number, number];
      const q = random([2, h * w, 6], 1);
      const tableH = random([lengths[0], 6], 2);
      const tableW = random([lengths[1], 6], 3);
      const weightH = random([2, h * w, h], 4);
      const weightW = random([2, h * w, w], 5);
      const loss = (f: typeof broadcastBiases) => (a: Tensor, b: Tensor, c: Tensor) => {
        const [relH, relW] = f(a, b, c, [h, w]);
        return tf.add(tf.sum(tf.mul(relH!, weightH)), tf.sum(tf.mul(relW!, weightW)));
      };
      const lean = tf.grads(loss(relativeBiases))([q, tableH, tableW]);
      const plain = tf.grads(loss(broadcastBiases))([q, tableH, tableW]);
      const [leanH, leanW] = relativeBiases(q, tableH, tableW, [h, w]);
      const [plainH, plainW] = broadcastBiases(q, tableH, tableW, [h, w]);
      assert(maxAbsDiff(leanH!.dataSync(), plainH!.dataSync()) < 1e-4, `${size}: relH`);
      assert(maxAbsDiff(leanW!.dataSync(), plainW!.dataSync()) < 1e-4, `${size}: relW`);
      ["queries", "tableH", "tableW"].forEach((name, i) => {
        const expected = plain[i]!.dataSync();
        const scale = Math.max(1, ...expected.map(Math.abs));
        const difference = maxAbsDiff(lean[i]!.dataSync(), expected);
        assert(difference < 1e-5 * scale, `${size}: d${name} off by ${difference}`);
        assert(scale > 1, `${size}: d${name} is not trivially small`);
      });
      tf.dispose([q, tableH, tableW, weightH, weightW, ...lean, ...plain]);
      tf.dispose([leanH!, leanW!, plainH!, plainW!]);
    }
  });
}

Deno.test("relativeBiases(): frozen tables get zeros, and the tape keeps the queries and tables only", async () => {
  await onBackend("cpu");
  const [h, w] = [5, 6];
  const q = random([3, h * w, 8], 1);
  const tableH = random([2 * h - 1, 8], 2);
  const tableW = random([2 * w - 1, 8], 3);
  markFrozen([tableH, tableW]);
  // Once first: the selection matrices are made once per size and cached.
  tf.dispose(relativeBiases(q, tableH, tableW, [h, w]));
  let kept = Infinity;
  const before = tf.memory().numBytes;
  const { grads } = tf.engine().gradients(() => {
    const [relH, relW] = tf.tidy(() => relativeBiases(q, tableH, tableW, [h, w]));
    // Beyond the two outputs, only the saved clones of the queries (one per bias) and of the
    // tables (tf.memory() counts each clone, though it shares its source's buffer).
    kept = tf.memory().numBytes - before - (relH!.size + relW!.size) * 4 -
      (2 * q.size + tableH.size + tableW.size) * 4;
    return tf.add(tf.sum(relH!), tf.sum(relW!)) as tf.Scalar;
  }, [q, tableH, tableW]);
  assert(kept === 0, `the tape kept ${kept} bytes`);
  assert(grads[1]!.dataSync().every((v) => v === 0) && grads[2]!.dataSync().every((v) => v === 0));
  assert(Math.max(...grads[0]!.dataSync().map(Math.abs)) > 0);
  tf.dispose([q, tableH, tableW, ...grads]);
});
