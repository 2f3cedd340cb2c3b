import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");
/** Runs `f` on the cpu backend (tfjs's reference kernels) and on wasm (the in-place kernels). */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<number[][][]> {
  const results: number[][][] = [];
  for (const backend of ["cpu", "wasm"] as const) {
    await onBackend(backend);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    results.push(list.map((t) => [...t.shape, -1, ...t.dataSync()]));
    tf.dispose(list);
  }
  return results;
}

const source = () => tf.range(0, 2 * 3 * 4 * 5).reshape([2, 3, 4, 5]);

Deno.test("wasm slice: every kind of slice equals the cpu backend's", async () => {
  const cases: Array<[number[], number[]]> = [
    [[1, 0, 0, 0], [1, 3, 4, 5]], // one whole entry: one contiguous run
    [[0, 1, 0, 0], [2, 2, 4, 5]], // runs of whole inner blocks
    [[1, 2, 1, 0], [1, 1, 3, 5]],
    [[0, 0, 0, 2], [2, 3, 4, 3]], // innermost axis cut: short runs
    [[1, 1, 1, 1], [1, 2, 2, 2]],
    [[0, 0, 0, 0], [2, 3, 4, 0]], // empty
  ];
  for (const [begin, size] of cases) {
    const [cpu, wasm] = await onBoth(() => tf.slice(source(), begin, size));
    assertEquals(wasm, cpu, `slice ${begin} ${size}`);
  }
  const [cpu1, wasm1] = await onBoth(() => tf.slice(tf.range(0, 7), [2], [4]));
  assertEquals(wasm1, cpu1);
});

Deno.test("wasm slice: split and unstack along every axis equal the cpu backend's", async () => {
  for (let axis = 0; axis < 4; axis++) {
    const [cpu, wasm] = await onBoth(() =>
      tf.split(source(), axis === 3 ? [2, 3] : 2 - (axis % 2), axis)
    );
    assertEquals(wasm, cpu, `split axis ${axis}`);
    const [cpuU, wasmU] = await onBoth(() => tf.unstack(source(), axis));
    assertEquals(wasmU, cpuU, `unstack axis ${axis}`);
  }
});

Deno.test("wasm slice: gradients through slices and splits, and no leaks", async () => {
  const [cpu, wasm] = await onBoth(() => {
    const x = source();
    return tf.grad((t: tf.Tensor) => {
      const [a, b] = tf.split(t, [1, 2], 1);
      return tf.add(tf.sum(tf.square(a!)), tf.sum(tf.slice(b!, [0, 0, 1, 0], [2, 2, 2, 5])));
    })(x);
  });
  assertEquals(wasm, cpu);
  await onBackend("wasm");
  const x = source();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose([tf.slice(x, [0, 1, 0, 0], [1, 1, 4, 5]), ...tf.split(x, 2, 0)]);
  }
  assert(tf.memory().numTensors === before);
  x.dispose();
});
