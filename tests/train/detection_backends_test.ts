/**
 * Detection on every available backend, webgpu included (which cannot read a tensor
 * synchronously): a training step through the trainer and the detections of an image, equal to
 * the cpu backend's within float tolerance.
 */
import assert from "node:assert/strict";
import { loadDetectionSplit } from "../../lib/data/detection_layout.ts";
import { DetectionReader } from "../../lib/data/detection_reader.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { detectImage } from "../../lib/eval/detect_image.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { detectionBatch } from "../../lib/train/detection_batch.ts";
import { train } from "../../lib/train/trainer.ts";
import { assertAllClose, availableBackends, onBackend } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";

const data = new URL("../../fixtures/detection", import.meta.url).pathname;
const split = await loadDetectionSplit({ data, split: "train" });
const image = await decodeRgb(split.images[1]!.file);

async function runOn(backend: "cpu" | "wasm" | "webgpu") {
  await onBackend(backend);
  const sam = randomSam(TINY_SIZE);
  const model = PeftModel.create(sam, validatePeftConfig({ method: "lora", loraRank: 2 }), {
    numClasses: 3,
    seed: 0,
    head: { task: "detection", queries: 4 },
  });
  const result = await train(model.detector(), new DetectionReader(split, { size: 128, seed: 0 }), {
    maxSteps: 1,
    batchSize: 2,
    learningRate: 1e-3,
    prepareBatch: (tiles) => detectionBatch(tiles),
  });
  const { detections } = await detectImage((x) => model.detect(x), image, { size: 128 });
  const state = await model.exportTrainingState();
  model.dispose();
  sam.dispose();
  return { loss: result.loss!, detections, state };
}

Deno.test("detection trains and detects alike on every backend", async () => {
  const reference = await runOn("cpu");
  const others = (await availableBackends()).filter((b) => b !== "cpu");
  for (const backend of others) {
    const got = await runOn(backend);
    assert.ok(
      Math.abs(got.loss - reference.loss) < 1e-3,
      `${backend}: loss ${got.loss} vs ${reference.loss}`,
    );
    const name = "mask_decoder.class_head.layers.1.weight";
    assertAllClose(
      got.state.get(name)!.data,
      reference.state.get(name)!.data,
      1e-4,
      `${backend} ${name}`,
    );
    assert.equal(got.detections.length, reference.detections.length, backend);
    assertAllClose(
      got.detections.map((d) => d.score),
      reference.detections.map((d) => d.score),
      1e-3,
      `${backend} scores`,
    );
  }
  await onBackend("cpu");
});
