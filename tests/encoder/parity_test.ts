/**
 * Parity with the official PyTorch SAM: fixtures/goldens were made by scripts/make_goldens.py
 * with facebookresearch/segment-anything on small random-weight configurations.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { loadCheckpoint } from "../../lib/encoder/checkpoint.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { preprocessImage } from "../../lib/encoder/preprocess.ts";
import { decodeMasks } from "../../lib/decoder/mask_decoder.ts";
import { densePositionalEncoding } from "../../lib/decoder/prompt_encoder.ts";
import { postprocessMasks } from "../../lib/decoder/postprocess.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import { assertAllClose, availableBackends, maxAbsDiff, onBackend, take } from "../_backends.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const CASES = [
  { config: "tiny_a", name: "wide", resized: false },
  { config: "tiny_a", name: "resized", resized: true },
  { config: "tiny_b", name: "tall", resized: false },
];
const TOLERANCE = 1e-4;

function channelLast(values: Float32Array, shape: number[]): tf.Tensor4D {
  return tf.tidy(() =>
    tf.tensor4d(values, shape as [number, number, number, number]).transpose([0, 2, 3, 1])
  );
}

for (const golden of CASES) {
  Deno.test(`SAM ${golden.config} ${golden.name}: encoder, prompt encoder and mask decoder match the official outputs`, async () => {
    const expected = await readSafetensors(
      `${fixtures}goldens/${golden.config}_${golden.name}.safetensors`,
    );
    const get = (name: string) => expected.get(name)!;
    for (const backend of await availableBackends()) {
      await onBackend(backend);
      const weights = await loadCheckpoint(`${fixtures}sam/${golden.config}.safetensors`);
      const input = channelLast(get("preprocessed").data, get("preprocessed").shape);
      const embeddings = encodeImage(weights, input);
      const officialEmbeddings = tf.tidy(() => embeddings.transpose([0, 3, 1, 2]));
      assertAllClose(
        await take(officialEmbeddings),
        get("image_embeddings").data,
        TOLERANCE,
        `${backend} image_embeddings`,
      );

      const [, , g] = get("dense_pe").shape as [number, number, number, number];
      const pe = tf.tidy(() => densePositionalEncoding(weights, g, g).transpose([0, 3, 1, 2]));
      assertAllClose(await take(pe), get("dense_pe").data, TOLERANCE, `${backend} dense_pe`);

      const { lowResMasks, iouPredictions } = decodeMasks(weights, embeddings);
      assertAllClose(
        await lowResMasks.data(),
        get("low_res_masks").data,
        TOLERANCE,
        `${backend} low_res_masks`,
      );
      assertAllClose(
        await take(iouPredictions!),
        get("iou_predictions").data,
        TOLERANCE,
        `${backend} iou_predictions`,
      );
      const [inH, inW] = get("input_size").data;
      const [origH, origW] = get("original_size").data;
      const masks = postprocessMasks(lowResMasks, weights.architecture.encoder.imageSize, [
        inH!,
        inW!,
      ], [origH!, origW!]);
      assertEquals(masks.shape, get("masks").shape);
      assertAllClose(await take(masks), get("masks").data, TOLERANCE, `${backend} masks`);
      tf.dispose([input, embeddings, lowResMasks]);
      // A second pass allocates nothing that outlives it (the first one fills constant caches).
      const cached = tf.memory().numTensors;
      tf.dispose(tf.tidy(() =>
        decodeMasks(
          weights,
          encodeImage(weights, channelLast(get("preprocessed").data, get("preprocessed").shape)),
        )
      ));
      assertEquals(tf.memory().numTensors, cached, `${backend}: tensors left behind`);
      weights.dispose();
    }
  });

  Deno.test(`SAM ${golden.config} ${golden.name}: preprocessing of the PNG matches the official one`, async () => {
    await onBackend("cpu");
    const expected = await readSafetensors(
      `${fixtures}goldens/${golden.config}_${golden.name}.safetensors`,
    );
    const preprocessed = expected.get("preprocessed")!;
    const imageSize = preprocessed.shape[2]!;
    const image = await decodeRgb(`${fixtures}goldens/${golden.config}_${golden.name}.png`);
    const prepared = await preprocessImage(image, imageSize);
    assertEquals(prepared.inputSize, [...expected.get("input_size")!.data]);
    const ours = await take(tf.tidy(() => prepared.pixels.transpose([0, 3, 1, 2])));
    prepared.pixels.dispose();
    if (!golden.resized) {
      // No resampling involved: normalisation and padding are exact.
      assertAllClose(ours, preprocessed.data, 1e-6, "preprocessed");
    } else {
      // Official resizing is Pillow's fixed-point bilinear filter; ours is libvips's. They agree
      // to within a few grey levels (1 level = 1/57 in normalised units).
      const diff = maxAbsDiff(ours, preprocessed.data);
      console.log(`resized preprocessing: max difference ${diff}`);
      if (diff > 8 / 57) throw new Error(`resized preprocessing differs by ${diff}`);
    }
  });
}
