/**
 * Staged gradients (one stage's tape at a time) give tf.variableGrads' numbers: on a chain whose
 * gradients are known by hand, and on PEFT models whose variables are shared across stages
 * (MoPEFT's prefix reparameterisation MLP) or absent from most of them; and they leave nothing
 * behind, also when a stage throws.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  type Tensor,
  type Tensor3D,
  type Tensor4D,
  tf,
  type Variable,
} from "../../lib/backend/tf.ts";
import type { SamSize } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { segmentationLoss } from "../../lib/train/loss.ts";
import { type Stage, stagedGradients } from "../../lib/train/staged_gradients.ts";
import { assertSameRun, maxAbsDiff, onBackend } from "../_backends.ts";
import {
  randomImages,
  randomLabels,
  randomSam,
  SMALL_B_SIZE,
  SMALL_CONFIG,
} from "../peft/_helpers.ts";

/** The peak tensor bytes of `run` (a gradient computation) and the gradient it gives `w`. */
async function peakOf(w: Variable, run: () => { value: Tensor; grads: Record<string, Tensor> }) {
  let result!: { value: Tensor; grads: Record<string, Tensor> };
  const { peakBytes } = await tf.profile(() => {
    result = run();
  });
  const gradient = await result.grads[w.name]!.data();
  tf.dispose([result.value, ...Object.values(result.grads)]);
  return { peakBytes, gradient };
}

Deno.test("staged gradients of a hand-checked chain: shared variables summed, unused ones absent", async () => {
  await onBackend("cpu");
  const w = tf.variable(tf.scalar(3), true);
  const u = tf.variable(tf.tensor1d([1, -1]), true);
  const unused = tf.variable(tf.scalar(5), true);
  const frozen = tf.variable(tf.scalar(7), false);
  const x = tf.tensor1d([1, 2]);
  // loss = sum(x * w * w * u) = w² (x · u) = 9 * (1 - 2) = -9;
  // d/dw = 2w (x · u) = -6 (3 from each of the first two stages), d/du = x w² = [9, 18].
  const stages: Stage[] = [
    (t) => tf.mul(t, w),
    (t) => tf.mul(t, tf.mul(w, frozen.div(frozen))),
    (t) => tf.sum(tf.mul(t, u)),
  ];
  const { value, grads } = stagedGradients(stages, x, [w, u, unused, frozen]);
  // The last two stages under one tape: the same numbers.
  const tail = stagedGradients(stages, x, [w, u], { tapedTail: 2 });
  assertEquals(await tail.value.data(), new Float32Array([-9]));
  assertEquals(await tail.grads[w.name]!.data(), new Float32Array([-6]));
  assertEquals(await tail.grads[u.name]!.data(), new Float32Array([9, 18]));
  tf.dispose([tail.value, ...Object.values(tail.grads)]);
  throws(() => stagedGradients(stages, x, [w], { tapedTail: 0 }), /tapedTail/);
  assertEquals(await value.data(), new Float32Array([-9]));
  assertEquals(Object.keys(grads).sort(), [u.name, w.name].sort());
  assertEquals(await grads[w.name]!.data(), new Float32Array([-6]));
  assertEquals(await grads[u.name]!.data(), new Float32Array([9, 18]));
  const plain = tf.variableGrads(() => stages[2]!(stages[1]!(stages[0]!(x))) as tf.Scalar, [w, u]);
  assertEquals(await plain.grads[w.name]!.data(), new Float32Array([-6]));
  tf.dispose([value, ...Object.values(grads), plain.value, ...Object.values(plain.grads)]);
  tf.dispose([w, u, unused, frozen, x]);
});

/** A PEFT model moved off its initial values (LoRA's B and the adapters' up start at zero). */
function perturbedModel(size: SamSize, method: string): PeftModel {
  const sam = randomSam(size);
  const model = PeftModel.create(sam, validatePeftConfig({ method, ...SMALL_CONFIG }), {
    numClasses: 3,
    seed: 4,
  });
  [...model.trainableVariables().values()].forEach((variable, i) =>
    variable.assign(
      tf.tidy(() => tf.add(variable, tf.randomNormal(variable.shape, 0, 0.1, "float32", 50 + i))),
    )
  );
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    dispose();
    sam.dispose();
  };
  return model;
}

/** The loss stage by stage: the model's stages with the loss after the last one. */
function lossStages(model: PeftModel, labels: Tensor3D): Stage[] {
  const stages = model.stages();
  assert(stages, `${model.config.method} offers no stages`);
  const head = stages.at(-1)!;
  return [
    ...stages.slice(0, -1),
    (x) => tf.tidy(() => segmentationLoss(head(x) as Tensor4D, labels)),
  ];
}

for (const backend of ["wasm", "cpu"] as const) {
  for (const method of ["mopeft", "lora"]) {
    Deno.test(`${backend}, ${method}: staged gradients equal tf.variableGrads`, async () => {
      await onBackend(backend);
      const model = perturbedModel(SMALL_B_SIZE, method);
      const images = randomImages(SMALL_B_SIZE, 2);
      const labels = randomLabels(SMALL_B_SIZE, 2, 3) as Tensor3D;
      const variables = [...model.trainableVariables().values()];
      const plain = tf.variableGrads(
        () => segmentationLoss(model.forward(images), labels),
        variables,
      );
      const stages = lossStages(model, labels);
      // One stage taped at a time, the last three under one tape, and the whole chain at once.
      for (const tapedTail of [1, 3, stages.length]) {
        const staged = stagedGradients(stages, images, variables, { tapedTail });
        // The last stage's input was computed untaped with the same operations: the same loss.
        assertSameRun(await staged.value.data(), await plain.value.data(), "loss");
        assertEquals(Object.keys(staged.grads).sort(), Object.keys(plain.grads).sort());
        assertEquals(Object.keys(plain.grads).length, variables.length);
        let worst = 0;
        for (const [name, gradient] of Object.entries(plain.grads)) {
          const expected = await gradient!.data() as Float32Array;
          const actual = await staged.grads[name]!.data() as Float32Array;
          const scale = expected.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
          assert(scale > 0, `"${name}" has an all-zero gradient`);
          const relative = maxAbsDiff(actual, expected) / scale;
          worst = Math.max(worst, relative);
          assert(relative <= 1e-5, `"${name}", tail ${tapedTail}: relative difference ${relative}`);
        }
        console.log(
          `${backend} ${method}, tail ${tapedTail}: worst relative difference ${
            worst.toExponential(2)
          }`,
        );
        tf.dispose([staged.value, ...Object.values(staged.grads)]);
      }
      tf.dispose([plain.value, ...Object.values(plain.grads) as Tensor[]]);
      tf.dispose([images, labels]);
      model.dispose();
    });
  }
}

Deno.test("wasm: repeated staged gradients, and a stage that throws, leave no tensor behind", async () => {
  await onBackend("wasm");
  const model = perturbedModel(SMALL_B_SIZE, "mopeft");
  const images = randomImages(SMALL_B_SIZE, 1);
  const labels = randomLabels(SMALL_B_SIZE, 1, 3) as Tensor3D;
  const variables = [...model.trainableVariables().values()];
  const stages = lossStages(model, labels);
  const once = (tapedTail = 1) => {
    const { value, grads } = stagedGradients(stages, images, variables, { tapedTail });
    tf.dispose([value, ...Object.values(grads)]);
  };
  // The first pass makes the encoder's kept relative-position constants.
  once();
  const before = tf.memory();
  for (const tail of [1, 1, 3, stages.length + 2]) once(tail);
  const after = tf.memory();
  assertEquals([after.numTensors, after.numBytes], [before.numTensors, before.numBytes]);
  // A failure in the backward walk (in the second block's stage, on its recomputation).
  let calls = 0;
  const failing = stages.map((stage, i): Stage =>
    i === 2
      ? (x) => {
        if (++calls === 2) throw new Error("stage failed");
        return stage(x);
      }
      : stage
  );
  throws(() => stagedGradients(failing, images, variables), /stage failed/);
  // A last stage that is no loss.
  throws(
    () => stagedGradients([...stages.slice(0, -1), (x) => tf.add(x, 1)], images, variables),
    /must return a scalar/,
  );
  const end = tf.memory();
  assertEquals([end.numTensors, end.numBytes], [before.numTensors, before.numBytes]);
  tf.dispose([images, labels]);
  model.dispose();
});

Deno.test("a taped stage's backward pass frees each intermediate gradient once used, and reports what its tape keeps", async () => {
  await onBackend("cpu");
  const w = tf.variable(tf.fill([1000], 0.5), true);
  const x = tf.ones([1000]);
  // 20 elementwise ops that keep nothing for their backward pass: each output is freed once the
  // next is made, so only the backward pass holds 21 tensors of 4000 bytes: their gradients.
  const chain: Stage = (t) => {
    let y = tf.mul(t, w);
    for (let i = 0; i < 20; i++) {
      const next = tf.neg(y);
      y.dispose();
      y = next;
    }
    return tf.sum(y);
  };
  const tapes: number[] = [];
  const before = tf.memory().numBytes;
  const staged = await peakOf(
    w,
    () => stagedGradients([chain], x, [w], { onStageTimed: (t) => tapes.push(t.tapeBytes) }),
  );
  const plain = await peakOf(w, () => tf.variableGrads(() => chain(x) as tf.Scalar, [w]));
  // d/dw sum((-1)^20 x w) = x = 1.
  assertEquals(staged.gradient, new Float32Array(1000).fill(1));
  assertEquals(plain.gradient, staged.gradient);
  // tfjs's own pass ends with all 21 gradients of [1000] alive; here at most a few at a time.
  assert(plain.peakBytes - before >= 21 * 4000, `plain peak ${plain.peakBytes - before}`);
  assert(staged.peakBytes - before <= 8 * 4000, `staged peak ${staged.peakBytes - before}`);
  // The tape keeps x and w (left out: the input and the variable), the sum's input (tfjs's Sum
  // keeps it for its shape) and the scalar loss.
  assertEquals(tapes, [4000 + 4]);
  tf.dispose([w, x]);
});

Deno.test("a custom gradient's scratch is freed at once in a staged backward pass (tfjs keeps it to the end)", async () => {
  await onBackend("cpu");
  const w = tf.variable(tf.fill([1000], 0.5), true);
  const x = tf.ones([1000]);
  // t · 2 whose gradient 2 dy is computed the long way: 11 scratch tensors of 4000 bytes a call.
  const doubled = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [t] = args as [Tensor];
    save([]);
    return {
      value: tf.mul(t, 2),
      gradFunc: (dy: Tensor) => {
        let g = dy;
        for (let i = 0; i < 10; i++) g = tf.add(g, 1);
        return tf.mul(tf.sub(g, 10), 2);
      },
    };
  }) as (t: Tensor) => Tensor;
  const chain: Stage = (t) => {
    let y = tf.mul(t, w);
    for (let i = 0; i < 5; i++) {
      const next = doubled(y);
      y.dispose();
      y = next;
    }
    return tf.sum(y);
  };
  const before = tf.memory().numBytes;
  const staged = await peakOf(w, () => stagedGradients([chain], x, [w]));
  const plain = await peakOf(w, () => tf.variableGrads(() => chain(x) as tf.Scalar, [w]));
  // d/dw sum(2^5 x w) = 32 x = 32.
  assertEquals(staged.gradient, new Float32Array(1000).fill(32));
  assertEquals(plain.gradient, staged.gradient);
  assert(plain.peakBytes - before >= 50 * 4000, `plain peak ${plain.peakBytes - before}`);
  assert(staged.peakBytes - before <= 16 * 4000, `staged peak ${staged.peakBytes - before}`);
  tf.dispose([w, x]);
});
