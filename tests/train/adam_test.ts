import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf, type Variable } from "../../lib/backend/tf.ts";
import { Adam } from "../../lib/train/adam.ts";
import { assertAllClose, onBackend } from "../_backends.ts";

await onBackend("cpu");

const START = [0.5, -1, 2, 0.25];
const GRADIENTS = [[0.1, -0.2, 0.3, 0], [-0.4, 0.1, 0.2, 0.5], [0.3, 0.3, -0.1, 0.2]];

/** torch.optim.Adam / AdamW in float64, for comparison. */
function reference(decoupled: boolean, lr: number, wd: number): number[] {
  const p = [...START];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  GRADIENTS.forEach((g, index) => {
    const t = index + 1;
    for (let i = 0; i < p.length; i++) {
      const grad = decoupled ? g[i]! : g[i]! + wd * p[i]!;
      m[i] = 0.9 * m[i]! + 0.1 * grad;
      v[i] = 0.999 * v[i]! + 0.001 * grad * grad;
      const denominator = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
      const update = (lr / (1 - 0.9 ** t)) * m[i]! / denominator;
      p[i] = p[i]! - update - (decoupled ? lr * wd * p[i]! : 0);
    }
  });
  return p;
}

function run(adam: Adam, steps: number[][], lr: number, masks?: Map<string, tf.Tensor>) {
  for (const g of steps) {
    const gradient = tf.tensor1d(g);
    adam.applyGradients(new Map([["w", gradient]]), lr, masks);
    gradient.dispose();
  }
}

for (const decoupled of [false, true]) {
  Deno.test(`Adam matches torch.optim.${decoupled ? "AdamW" : "Adam"} with weight decay`, async () => {
    const w = tf.variable(tf.tensor1d(START));
    const adam = new Adam(new Map([["w", w]]), {
      weightDecay: 0.1,
      decoupledWeightDecay: decoupled,
    });
    run(adam, GRADIENTS, 0.01);
    assertAllClose(await w.data(), reference(decoupled, 0.01, 0.1), 1e-6);
    assertEquals(adam.step, 3);
    adam.dispose();
    w.dispose();
  });
}

Deno.test("Adam leaves masked entries and their moments bit-exactly untouched", async () => {
  const w = tf.variable(tf.tensor1d(START));
  const adam = new Adam(new Map([["w", w]]), { weightDecay: 0.1 });
  run(adam, GRADIENTS.slice(0, 1), 0.01);
  const before = await adam.exportState();
  const valuesBefore = await w.data();
  const mask = tf.tensor1d([1, 0, 1, 0]);
  run(adam, GRADIENTS.slice(1), 0.01, new Map([["w", mask]]));
  const after = await adam.exportState();
  const valuesAfter = await w.data();
  for (const i of [1, 3]) {
    assertEquals(valuesAfter[i], valuesBefore[i]);
    assertEquals(after.moments.get("w")!.m[i], before.moments.get("w")!.m[i]);
    assertEquals(after.moments.get("w")!.v[i], before.moments.get("w")!.v[i]);
  }
  for (const i of [0, 2]) {
    if (valuesAfter[i] === valuesBefore[i]) throw new Error(`entry ${i} did not move`);
  }
  tf.dispose([mask, w]);
  adam.dispose();
});

Deno.test("Adam skips a variable whose mask is null: no gradient needed, value and moments kept", async () => {
  const w = tf.variable(tf.tensor1d(START));
  const skipped = tf.variable(tf.tensor1d([1, 2]));
  const adam = new Adam(new Map([["w", w], ["skipped", skipped]]));
  const gradient = tf.tensor1d(GRADIENTS[0]!);
  const skippedGradient = tf.tensor1d([0.5, 0.5]);
  adam.applyGradients(new Map([["w", gradient], ["skipped", skippedGradient]]), 0.01);
  const before = await adam.exportState();
  const skippedBefore = await skipped.data();
  // Two steps without a gradient for "skipped"; "w" learns on.
  for (let i = 0; i < 2; i++) {
    adam.applyGradients(new Map([["w", gradient]]), 0.01, new Map([["skipped", null]]));
  }
  const after = await adam.exportState();
  assertEquals(Array.from(await skipped.data()), Array.from(skippedBefore));
  assertEquals(after.moments.get("skipped"), before.moments.get("skipped"));
  assertEquals(after.step, 3);
  if (after.moments.get("w")!.m[0] === before.moments.get("w")!.m[0]) {
    throw new Error("w did not learn");
  }
  tf.dispose([w, skipped, gradient, skippedGradient]);
  adam.dispose();
});

Deno.test("Adam exportState()/importState() resumes bit-exactly", async () => {
  const straight = tf.variable(tf.tensor1d(START));
  const adamA = new Adam(new Map([["w", straight]]), { weightDecay: 1e-4 });
  run(adamA, [...GRADIENTS, ...GRADIENTS], 0.01);

  const first = tf.variable(tf.tensor1d(START));
  const adamB = new Adam(new Map([["w", first]]), { weightDecay: 1e-4 });
  run(adamB, GRADIENTS, 0.01);
  const state = await adamB.exportState();
  const saved = new Float32Array(await first.data() as Float32Array);
  adamB.dispose();

  const resumed = tf.variable(tf.tensor1d(saved));
  const adamC = new Adam(new Map([["w", resumed]]), { weightDecay: 1e-4 });
  adamC.importState(state);
  run(adamC, GRADIENTS, 0.01);
  assertEquals(Array.from(await resumed.data()), Array.from(await straight.data()));
  tf.dispose([straight, first, resumed]);
  adamA.dispose();
  adamC.dispose();
});

Deno.test("Adam allocates no tensors per step", () => {
  const variables = new Map<string, Variable>([
    ["a", tf.variable(tf.ones([3, 4]))],
    ["b", tf.variable(tf.zeros([5]))],
  ]);
  const adam = new Adam(variables, { weightDecay: 1e-4 });
  const gradients = new Map([["a", tf.fill([3, 4], 0.5)], ["b", tf.fill([5], -0.1)]]);
  const masks = new Map([["b", tf.tensor1d([1, 0, 1, 0, 1])]]);
  adam.applyGradients(gradients, 1e-3, masks);
  const count = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) adam.applyGradients(gradients, 1e-3, masks);
  assertEquals(tf.memory().numTensors, count);
  adam.dispose();
  tf.dispose([...variables.values(), ...gradients.values(), ...masks.values()]);
});
