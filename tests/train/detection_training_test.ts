/**
 * Detection training through the real trainer on the committed COCO-layout fixtures: the loss
 * over the training split falls, and every PEFT method's step runs with the detection head.
 */
import assert from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { loadDetectionSplit } from "../../lib/data/detection_layout.ts";
import { DetectionReader } from "../../lib/data/detection_reader.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { detectionBatch } from "../../lib/train/detection_batch.ts";
import { train } from "../../lib/train/trainer.ts";
import { assertSameRun, onBackend, TRAINED } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";

await onBackend("wasm");

const data = new URL("../../fixtures/detection", import.meta.url).pathname;
const split = await loadDetectionSplit({ data, split: "train" });
const head = { task: "detection" as const, queries: 6 };

/** The mean detection loss over every batch of the split (no update). */
async function splitLoss(model: PeftModel): Promise<number> {
  const reader = new DetectionReader(split, { size: TINY_SIZE.imageSize });
  let total = 0;
  let batches = 0;
  for await (const tiles of reader.batches(4)) {
    const batch = detectionBatch(tiles);
    const value = batch.loss(model.detect(batch.images));
    total += (await value.data())[0]!;
    batches++;
    tf.dispose(value);
    batch.dispose();
  }
  return total / batches;
}

Deno.test("detection training lowers the loss on the fixture split", async () => {
  const sam = randomSam(TINY_SIZE);
  const model = PeftModel.create(sam, validatePeftConfig({ method: "decoder" }), {
    numClasses: split.classNames.length,
    seed: 0,
    head,
  });
  const before = await splitLoss(model);
  const tensors = tf.memory().numTensors;
  const result = await train(model.detector(), new DetectionReader(split, { size: 128, seed: 0 }), {
    maxSteps: 20,
    batchSize: 4,
    learningRate: 3e-3,
    prepareBatch: (tiles) => detectionBatch(tiles),
  });
  assert.equal(tf.memory().numTensors, tensors, "the trainer leaves no tensor behind");
  assert.equal(result.step, 20);
  const after = await splitLoss(model);
  assert.ok(after < 0.8 * before, `loss ${before} -> ${after}`);
  model.dispose();
  sam.dispose();
});

Deno.test("every method trains a step with the detection head", async () => {
  const sam = randomSam(TINY_SIZE);
  for (const method of ["full", "lora", "prefix", "vpt", "adapter", "mosa", "mopeft"]) {
    const config = validatePeftConfig({ method, loraRank: 2, prefixLength: 2, adapterDim: 4 });
    const model = PeftModel.create(sam, config, { numClasses: 3, seed: 1, head });
    const reader = new DetectionReader(split, { size: 128, seed: 0 });
    const before = await model.exportTrainingState();
    const result = await train(model.detector(), reader, {
      maxSteps: 1,
      batchSize: 2,
      learningRate: 1e-3,
      prepareBatch: (tiles) => detectionBatch(tiles),
    });
    assert.ok(Number.isFinite(result.loss), method);
    const after = await model.exportTrainingState();
    // The class head and, for every method but the decoder alone, an encoder-side tensor moved.
    const moved = [...after].filter(([name, t]) =>
      t.data.some((v, i) => v !== before.get(name)!.data[i])
    ).map(([name]) => name);
    assert.ok(moved.includes("mask_decoder.class_head.layers.1.weight"), method);
    assert.ok(moved.some((name) => !name.startsWith("mask_decoder.")), `${method}: ${moved}`);
    model.dispose();
  }
  sam.dispose();
});

Deno.test("matching ahead (what webgpu needs) trains to the same weights as matching in the loss", async () => {
  const sam = randomSam(TINY_SIZE);
  const config = validatePeftConfig({ method: "lora", loraRank: 2 });
  const states = [];
  for (const matchAhead of [false, true]) {
    const model = PeftModel.create(sam, config, { numClasses: 3, seed: 2, head });
    const tensors = tf.memory().numTensors;
    await train(model.detector(), new DetectionReader(split, { size: 128, seed: 0 }), {
      maxSteps: 3,
      batchSize: 2,
      learningRate: 1e-3,
      prepareBatch: (tiles) => detectionBatch(tiles, {}, { matchAhead }),
    });
    assert.equal(tf.memory().numTensors, tensors, "no tensor left behind");
    states.push(await model.exportTrainingState());
    model.dispose();
  }
  for (const [name, tensor] of states[0]!) {
    assertSameRun(states[1]!.get(name)!.data, tensor.data, name, TRAINED);
  }
  sam.dispose();
});
