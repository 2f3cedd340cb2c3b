/**
 * The step profile: per-kernel times summing within the step, each stage of the staged
 * gradients named once (and the taped tail as one, once the first step measured it fits), no
 * stages for the decoder-only step, custom-gradient scopes apart from the kernels.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { useBackend } from "../../lib/backend/backend.ts";
import { type Tensor3D, type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { randomSamWeights } from "../../lib/bench/random_weights.ts";
import { profileTrainStep } from "../../lib/bench/step_profile.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { Adam } from "../../lib/train/adam.ts";

Deno.test("profileTrainStep(): kernels within the step, every stage once, then the taped tail", async () => {
  await useBackend("wasm");
  const weights = randomSamWeights({ ...TINY_SIZE, imageSize: 64 }, 1);
  const images = tf.randomNormal([1, 64, 64, 3], 0, 1, "float32", 1) as Tensor4D;
  const labels = tf.tidy(() => tf.randomUniform([1, 64, 64], 0, 2, "int32", 2)) as Tensor3D;
  try {
    for (const method of ["lora", "decoder"] as const) {
      const model = PeftModel.create(weights, validatePeftConfig({ method }), {
        numClasses: 2,
        seed: 1,
      });
      let adam!: Adam;
      tf.tidy(() => {
        adam = new Adam(model.trainableVariables());
      });
      const first = await profileTrainStep(model, adam, images, labels, 0, { top: 5 });
      const second = await profileTrainStep(model, adam, images, labels, 1, { top: 5 });
      for (const profile of [first, second]) {
        ok(profile.kernelMs > 0 && profile.kernelMs <= profile.stepMs, JSON.stringify(profile));
        const summed = profile.kernels.reduce((n, k) => n + k.ms, 0);
        ok(Math.abs(summed - profile.kernelMs) < 0.1 * profile.kernels.length);
        assertEquals(profile.kernels.reduce((n, k) => n + k.calls, 0) <= profile.kernelCalls, true);
        ok(profile.kernels.some((k) => k.kernel === "BatchMatMul" && k.calls > 0));
        // Slowest first, and at most `top` shapes.
        ok(profile.kernels.every((k, i) => i === 0 || profile.kernels[i - 1]!.ms >= k.ms));
        ok(profile.kernelShapes.length <= 5);
      }
      if (method === "decoder") {
        // Past the frozen encoder in one tape: no stages.
        assertEquals([first.stages, second.stages], [[], []]);
      } else {
        const blocks = Array.from({ length: TINY_SIZE.depth }, (_, i) => `block ${i}`);
        assertEquals(first.stages.map((s) => s.stage), ["embed", ...blocks, "head"]);
        ok(first.stages.every((s) => s.tapeMiB > 0), JSON.stringify(first.stages));
        assertEquals(first.stages.at(-1)!.forwardMs, 0);
        // The tiny model's tapes fit the wasm heap together: one tape over the whole chain.
        assertEquals(second.stages.map((s) => [s.stage, s.forwardMs]), [["embed .. head", 0]]);
      }
      adam.dispose();
      model.dispose();
    }
  } finally {
    tf.dispose([images, labels]);
    weights.dispose();
  }
});

Deno.test("profileTrainStep(): a step in micro-batches is profiled in them, its stages per pass", async () => {
  await useBackend("wasm");
  const weights = randomSamWeights({ ...TINY_SIZE, imageSize: 64 }, 1);
  const images = tf.randomNormal([3, 64, 64, 3], 0, 1, "float32", 1) as Tensor4D;
  const labels = tf.tidy(() => tf.randomUniform([3, 64, 64], 0, 2, "int32", 2)) as Tensor3D;
  const model = PeftModel.create(weights, validatePeftConfig({ method: "lora" }), {
    numClasses: 2,
    seed: 1,
  });
  let adam!: Adam;
  tf.tidy(() => {
    adam = new Adam(model.trainableVariables());
  });
  try {
    const whole = await profileTrainStep(model, adam, images, labels, 0);
    assertEquals(whole.microBatch, 3);
    assertEquals(new Set(whole.stages.map((s) => s.pass)), new Set([0]));
    const parts = await profileTrainStep(model, adam, images, labels, 1, { microBatch: 1 });
    assertEquals(parts.microBatch, 1);
    // The first part measured its tapes one stage at a time; the next ones tape the chain whole.
    const blocks = Array.from({ length: TINY_SIZE.depth }, (_, i) => `block ${i}`);
    assertEquals(
      parts.stages.map((s) => [s.pass, s.stage]),
      [
        ...["embed", ...blocks, "head"].map((stage) => [0, stage]),
        [1, "embed .. head"],
        [2, "embed .. head"],
      ],
    );
  } finally {
    adam.dispose();
    model.dispose();
    tf.dispose([images, labels]);
    weights.dispose();
  }
});
