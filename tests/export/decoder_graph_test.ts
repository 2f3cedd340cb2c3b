/**
 * The exported promptable decoder (the official export's signature) equals the library's tfjs
 * prompt path on a few points, with and without a mask prompt.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { decodeMasks } from "../../lib/decoder/mask_decoder.ts";
import { postprocessMasks } from "../../lib/decoder/postprocess.ts";
import { maskPromptEmbedding, pointEmbeddings } from "../../lib/decoder/prompt_encoder.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import {
  buildDecoderGraph,
  DECODER_INPUTS,
  DECODER_OUTPUTS,
  promptDecoderWeights,
} from "../../lib/export/decoder_graph.ts";
import { encodeOnnxModel } from "../../lib/export/onnx_file.ts";
import { openOnnxSession } from "../../lib/export/onnx_runtime.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { onBackend } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";
import { randomImage, randomisedRun, relativeMaxDiff } from "./_export_helpers.ts";

await onBackend("cpu");

const TOLERANCE = 1e-4;
const size = TINY_SIZE.imageSize;
const grid = size / 16;

Deno.test("export: decoder.onnx has the official SAM export's inputs and outputs, in order", async () => {
  const sam = randomSam(TINY_SIZE);
  const session = await openOnnxSession(encodeOnnxModel(buildDecoderGraph(sam)).model);
  assertEquals([...session.inputNames], [...DECODER_INPUTS]);
  assertEquals([...session.outputNames], [...DECODER_OUTPUTS]); // in order: tools unpack by position
  await session.close();
  sam.dispose();
});

for (const withMask of [false, true]) {
  Deno.test(`export: decoder.onnx equals the tfjs prompt path on points${withMask ? " and a mask" : ""}`, async () => {
    const sam = randomSam(TINY_SIZE);
    const model = randomisedRun(sam, "mopeft");
    const weights = promptDecoderWeights(sam, model.weights());
    const { normalised } = randomImage(TINY_SIZE);
    // Two points (foreground, background), a box's corners, and the padding point.
    const coords = new Float32Array([40, 52, 90, 20, 10, 12, 100, 110, 0, 0]);
    const labels = new Float32Array([1, 0, 2, 3, -1]);
    const originalSize: [number, number] = [150, 200]; // h, w: resized to 96 x 128
    const random = mulberry32(3);
    const mask = Float32Array.from({ length: 16 * grid * grid }, () => 4 * random() - 2);
    const embeddingsCl = encodeImage(model.weights(), normalised, model.extensions());
    const reference = tf.tidy(() => {
      const sparse = pointEmbeddings(
        weights,
        tf.tensor3d(coords, [1, 5, 2]),
        tf.tensor2d(labels, [1, 5]),
      );
      const dense = withMask
        ? maskPromptEmbedding(weights, tf.tensor4d(mask, [1, 4 * grid, 4 * grid, 1]))
        : undefined;
      const { lowResMasks, iouPredictions } = decodeMasks(weights, embeddingsCl, {
        prompts: { sparse, dense },
      });
      const scale = size / Math.max(...originalSize);
      const inputSize = originalSize.map((side) => Math.floor(side * scale + 0.5)) as [
        number,
        number,
      ];
      const masks = postprocessMasks(lowResMasks, size, inputSize, originalSize);
      return [masks, iouPredictions!, lowResMasks];
    });
    const [masks, iou, lowRes] = await Promise.all(
      reference.map((t) => t.data()),
    ) as Float32Array[];
    const embeddings = tf.tidy(() => embeddingsCl.transpose([0, 3, 1, 2]) as Tensor4D);
    const embeddingValues = await embeddings.data() as Float32Array;
    tf.dispose([...reference, embeddings, embeddingsCl, normalised]);

    const session = await openOnnxSession(encodeOnnxModel(buildDecoderGraph(weights)).model);
    const out = await session.run({
      image_embeddings: { data: embeddingValues, dims: [1, TINY_SIZE.outChans, grid, grid] },
      point_coords: { data: coords, dims: [1, 5, 2] },
      point_labels: { data: labels, dims: [1, 5] },
      mask_input: { data: mask, dims: [1, 1, 4 * grid, 4 * grid] },
      has_mask_input: { data: new Float32Array([withMask ? 1 : 0]), dims: [1] },
      orig_im_size: { data: new Float32Array(originalSize), dims: [2] },
    });
    await session.close();
    model.dispose();
    sam.dispose();
    assertEquals(out.masks!.dims, [1, 4, ...originalSize]);
    assertEquals(out.low_res_masks!.dims, [1, 4, 4 * grid, 4 * grid]);
    for (
      const [name, expected] of [["masks", masks], ["iou_predictions", iou], [
        "low_res_masks",
        lowRes,
      ]] as const
    ) {
      const diff = relativeMaxDiff(out[name]!.data as Float32Array, expected!);
      assert(diff <= TOLERANCE, `${name}: relative difference ${diff}`);
    }
  });
}
