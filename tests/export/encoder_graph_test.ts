/**
 * The exported image encoder equals the tfjs model for every method, and a module left out of
 * the graph is noticed.
 */
import { ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { buildDecoderGraph, promptDecoderWeights } from "../../lib/export/decoder_graph.ts";
import { buildEncoderGraph, type EncoderGraphOptions } from "../../lib/export/encoder_graph.ts";
import { buildHeadGraph } from "../../lib/export/head_graph.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_file.ts";
import { openOnnxSession } from "../../lib/export/onnx_runtime.ts";
import type { PeftModel } from "../../lib/peft/peft_model.ts";
import { onBackend } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";
import { EXPORT_METHODS, randomImage, randomisedRun, relativeMaxDiff } from "./_export_helpers.ts";

await onBackend("cpu");

const TOLERANCE = 1e-4;

async function encoderDifference(model: PeftModel, options?: EncoderGraphOptions) {
  const { rgb, normalised } = randomImage(TINY_SIZE);
  const expected = tf.tidy(() =>
    encodeImage(model.weights(), normalised, model.extensions()).transpose([0, 3, 1, 2])
  );
  const reference = await expected.data() as Float32Array;
  tf.dispose([expected, normalised]);
  const graph = buildEncoderGraph(
    model.weights(),
    model.config,
    await model.exportTensors(),
    options,
  );
  const session = await openOnnxSession(encodeOnnxModel(graph).model);
  const s = TINY_SIZE.imageSize;
  const out = await session.run({ image: { data: rgb, dims: [1, 3, s, s] } });
  await session.close();
  const embeddings = out.image_embeddings!;
  assert(embeddings.dims.join() === [1, TINY_SIZE.outChans, s / 16, s / 16].join());
  return relativeMaxDiff(embeddings.data as Float32Array, reference);
}

for (const method of EXPORT_METHODS) {
  Deno.test(`export: the ${method} run's encoder.onnx equals the tfjs encoder`, async () => {
    const sam = randomSam(TINY_SIZE);
    const model = randomisedRun(sam, method);
    const diff = await encoderDifference(model);
    model.dispose();
    sam.dispose();
    assert(diff <= TOLERANCE, `${method}: relative difference ${diff}`);
  });
}

// Each kind of module, gated and not: leaving one block's module out must break the parity.
const OMISSIONS = [
  { method: "mopeft", block: 2, kind: "lora" },
  { method: "mopeft", block: 2, kind: "prefix" },
  { method: "mopeft", block: 2, kind: "adapter" },
  { method: "lora", block: 1, kind: "lora" },
  { method: "vpt", block: 0, kind: "vpt" },
  { method: "mosa", block: 3, kind: "adapter" },
] as const;

for (const { method, block, kind } of OMISSIONS) {
  Deno.test(`export: a ${method} encoder without block ${block}'s ${kind} differs from the tfjs model`, async () => {
    const sam = randomSam(TINY_SIZE);
    const model = randomisedRun(sam, method);
    const diff = await encoderDifference(model, { omit: { block, kind } });
    model.dispose();
    sam.dispose();
    assert(diff > 100 * TOLERANCE, `without ${kind}: relative difference only ${diff}`);
  });
}

Deno.test("export: building the graphs leaves no tfjs tensor behind", async () => {
  const sam = randomSam(TINY_SIZE);
  const model = randomisedRun(sam, "mopeft");
  const tensors = await model.exportTensors();
  const build = () => {
    buildEncoderGraph(model.weights(), model.config, tensors);
    buildHeadGraph(model.weights(), model.head, model.numClasses);
    buildDecoderGraph(promptDecoderWeights(sam, model.weights()));
  };
  build(); // caches (relative-position selection matrices) fill on the first build
  const before = tf.memory().numTensors;
  build();
  const after = tf.memory().numTensors;
  model.dispose();
  sam.dispose();
  assert(after === before, `${after - before} tensors left behind`);
});

Deno.test("export: a full fine-tuning run's encoder.onnx carries its trained encoder weights", async () => {
  const sam = randomSam(TINY_SIZE);
  const model = randomisedRun(sam, "full");
  // Its encoder tensors are randomised: with SAM's own weights the graph would differ widely.
  const diff = await encoderDifference(model);
  model.dispose();
  sam.dispose();
  assert(diff <= TOLERANCE, `full: relative difference ${diff}`);
});
