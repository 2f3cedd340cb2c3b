import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { loadTrainingCheckpoint } from "../../lib/train/checkpoint.ts";
import { train, type TrainOptions } from "../../lib/train/trainer.ts";
import { assertSameRun, onBackend, TRAINED } from "../_backends.ts";
import { tinyDecoderModel } from "./_tiny_model.ts";

// wasm: about five times faster than cpu on this model, and deterministic.
await onBackend("wasm");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));
// 22 tiles of 128 per epoch: 8 batches of 3, so 10 steps cross an epoch boundary.
const reader = () => new SegmentationReader(split, { size: 128, seed: 5 });
const OPTIONS: TrainOptions = { batchSize: 3, learningRate: 1e-3, maxSteps: 10 };

async function weightsOf(model: Awaited<ReturnType<typeof tinyDecoderModel>>) {
  const values = new Map<string, Float32Array>();
  for (const [name, variable] of model.trainableVariables()) {
    values.set(name, await variable.data() as Float32Array);
  }
  return values;
}

Deno.test("train() resumed from a checkpoint ends with the weights of an uninterrupted run", async () => {
  const straightModel = await tinyDecoderModel(3);
  const tensorCounts: number[] = [];
  const losses: number[] = [];
  const straight = await train(straightModel, reader(), {
    ...OPTIONS,
    onLog: (record) => {
      tensorCounts.push(tf.memory().numTensors);
      losses.push(record.loss);
    },
  });
  assertEquals(straight, { stopped: false, step: 10, epoch: 1, loss: losses[9]! });
  // No tensor outlives its step.
  assertEquals(new Set(tensorCounts.slice(1)).size, 1);
  const expected = await weightsOf(straightModel);
  straightModel.dispose();

  const dir = await Deno.makeTempDir();
  const controller = new AbortController();
  const interruptedModel = await tinyDecoderModel(3);
  const interrupted = await train(interruptedModel, reader(), {
    ...OPTIONS,
    checkpointDir: dir,
    saveEvery: 4,
    signal: controller.signal,
    onLog: (record) => {
      if (record.step === 7) controller.abort();
    },
  });
  interruptedModel.dispose();
  assertEquals(interrupted.stopped, true);
  assertEquals(interrupted.step, 7);

  const state = await loadTrainingCheckpoint(dir);
  assertEquals([state!.step, state!.epoch, state!.batchInEpoch, state!.seed], [7, 0, 7, 5]);
  const resumedModel = await tinyDecoderModel(3);
  // Zeroed, so that every trained value must come from the checkpoint.
  for (const variable of resumedModel.trainableVariables().values()) {
    tf.tidy(() => variable.assign(tf.zerosLike(variable)));
  }
  const resumedLosses: number[] = [];
  const resumed = await train(resumedModel, reader(), {
    ...OPTIONS,
    resumeFrom: state!,
    onLog: (record) => resumedLosses.push(record.loss),
  });
  assertEquals(resumed.step, 10);
  assertSameRun(resumedLosses, losses.slice(7), "losses");
  const actual = await weightsOf(resumedModel);
  for (const [name, values] of expected) assertSameRun(actual.get(name)!, values, name, TRAINED);
  resumedModel.dispose();
  await Deno.remove(dir, { recursive: true });
});
