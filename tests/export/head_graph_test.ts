/**
 * The exported heads equal the tfjs model: a semantic run's class logits for every method, a
 * detection run's boxes and scores.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { maskToBox } from "../../lib/decoder/masks_to_boxes.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { buildHeadGraph } from "../../lib/export/head_graph.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_file.ts";
import { openOnnxSession } from "../../lib/export/onnx_runtime.ts";
import type { PeftModel } from "../../lib/peft/peft_model.ts";
import { upsampleLogits } from "../../lib/train/upsample.ts";
import { onBackend } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";
import { EXPORT_METHODS, randomImage, randomisedRun, relativeMaxDiff } from "./_export_helpers.ts";

await onBackend("cpu");

const TOLERANCE = 1e-4;
const grid = TINY_SIZE.imageSize / 16;

/** The run's tfjs embeddings of the test image, channel-first. */
async function embeddingsOf(model: PeftModel): Promise<Float32Array> {
  const { normalised } = randomImage(TINY_SIZE);
  const embeddings = tf.tidy(() =>
    encodeImage(model.weights(), normalised, model.extensions()).transpose([0, 3, 1, 2])
  );
  const values = await embeddings.data() as Float32Array;
  tf.dispose([embeddings, normalised]);
  return values;
}

async function runHead(model: PeftModel, embeddings: Float32Array) {
  const graph = buildHeadGraph(model.weights(), model.head, model.numClasses);
  const session = await openOnnxSession(encodeOnnxModel(graph).model);
  const out = await session.run({
    image_embeddings: { data: embeddings, dims: [1, TINY_SIZE.outChans, grid, grid] },
  });
  await session.close();
  return out;
}

for (const method of EXPORT_METHODS) {
  Deno.test(`export: the ${method} run's head.onnx gives the tfjs class logits`, async () => {
    const sam = randomSam(TINY_SIZE);
    const model = randomisedRun(sam, method);
    const { normalised } = randomImage(TINY_SIZE);
    const expected = model.forward(normalised);
    const reference = await expected.data() as Float32Array;
    tf.dispose([expected, normalised]);
    const out = await runHead(model, await embeddingsOf(model));
    model.dispose();
    sam.dispose();
    assertEquals(out.logits!.dims, [1, 3, 4 * grid, 4 * grid]);
    const diff = relativeMaxDiff(out.logits!.data as Float32Array, reference);
    assert(diff <= TOLERANCE, `${method}: relative difference ${diff}`);
  });
}

Deno.test("export: a detection run's head.onnx gives the tfjs boxes and scores", async () => {
  const queries = 6;
  const sam = randomSam(TINY_SIZE);
  const model = randomisedRun(sam, "mopeft", 11, { task: "detection", queries });
  const { normalised } = randomImage(TINY_SIZE);
  const output = model.detect(normalised);
  const size = TINY_SIZE.imageSize;
  const full = upsampleLogits(output.masks, size, size);
  const [masks, classLogits] = [await full.data(), await output.classLogits.data()];
  tf.dispose([full, output.masks, output.classLogits, normalised]);
  const out = await runHead(model, await embeddingsOf(model));
  model.dispose();
  sam.dispose();
  assertEquals(out.boxes!.dims, [queries, 4]);
  assertEquals(out.scores!.dims, [queries, 3]);
  const boxes = out.boxes!.data as Float32Array;
  const scores = out.scores!.data as Float32Array;
  let nonEmpty = 0;
  const expectedScores = new Float32Array(queries * 3);
  for (let q = 0; q < queries; q++) {
    const box = maskToBox(masks.subarray(q * size * size, (q + 1) * size * size), size, size);
    assertEquals([...boxes.subarray(q * 4, q * 4 + 4)], box ? box.box : [0, 0, 0, 0], `query ${q}`);
    if (box) nonEmpty++;
    const row = [...classLogits.subarray(q * 4, q * 4 + 4)];
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let c = 0; c < 3; c++) {
      expectedScores[q * 3 + c] = box ? Math.exp(row[c]! - max) / sum * box.meanProbability : 0;
    }
  }
  assert(nonEmpty >= 2, `only ${nonEmpty} queries have a mask: the test shows too little`);
  const diff = relativeMaxDiff(scores, expectedScores);
  assert(diff <= TOLERANCE, `scores: relative difference ${diff}`);
});
