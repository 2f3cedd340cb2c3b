import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import type { Tile } from "../../lib/data/tiler.ts";
import { PIXEL_MEAN, PIXEL_STD } from "../../lib/encoder/preprocess.ts";
import { evaluate } from "../../lib/eval/evaluate.ts";
import { predictImage } from "../../lib/eval/predict_image.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import { mergeScores } from "../../lib/metrics/report.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "test" }));

/** Logits at full tile resolution read off each tile's label: a perfect predictor. */
function oracle(_images: tf.Tensor4D, tiles: readonly Tile[]): tf.Tensor4D {
  return tf.tidy(() => {
    const size = tiles[0]!.size;
    const labels = tiles.map((tile) => Int32Array.from(tile.label!, (v) => (v === 255 ? 0 : v)));
    const stacked = tf.tensor3d(
      labels.flatMap((l) => Array.from(l)),
      [tiles.length, size, size],
      "int32",
    );
    return tf.oneHot(stacked.reshape([-1]), 3).toFloat().reshape([tiles.length, size, size, 3])
      .transpose([0, 3, 1, 2]) as tf.Tensor4D;
  });
}

/** Per-pixel predictor: class = the channel with the largest normalised value. */
function brightestChannel(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => images.transpose([0, 3, 1, 2]) as tf.Tensor4D);
}

Deno.test("evaluate() gives mIoU 100 to a perfect oracle, with and without tile overlap", async () => {
  for (const overlap of [0, 8]) {
    // S = 64: every test image is larger, so every image goes through cut tiles and stitching.
    const reader = new SegmentationReader(split, { size: 64, overlap });
    const before = tf.memory().numTensors;
    const result = await evaluate(oracle, reader, { batchSize: 3 });
    assertEquals(tf.memory().numTensors, before);
    assertEquals(result.images, 4);
    assertEquals(result.report.miou, 100);
    assertEquals(result.report.pacc, 100);
  }
});

Deno.test("evaluate() shards merge into the scores of the whole split", async () => {
  const reader = new SegmentationReader(split, { size: 128, overlap: 16 });
  const whole = await evaluate(brightestChannel, reader);
  const seen: number[] = [];
  const shards = [];
  for (let index = 0; index < 3; index++) {
    shards.push(
      (await evaluate(brightestChannel, reader, {
        shard: { index, count: 3 },
        onImage: (image) => void seen.push(image.index),
      })).report,
    );
  }
  assertEquals(seen.sort(), [0, 1, 2, 3]);
  const merged = mergeScores(...shards);
  assertEquals(merged.confusion, whole.report.confusion);
  assertEquals(merged.miou, whole.report.miou);
  assertEquals(merged.images, 4);
});

Deno.test("predictImage() stitches tiles into the per-pixel prediction, with and without overlap", async () => {
  const image = await decodeRgb(`${DATA}/images_detectron2/test/test_011_300x180.png`);
  const expected = new Uint8Array(image.width * image.height);
  for (let pixel = 0; pixel < expected.length; pixel++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < 3; c++) {
      const value = Math.fround((image.data[pixel * 3 + c]! - PIXEL_MEAN[c]!) / PIXEL_STD[c]!);
      if (value > bestValue) [best, bestValue] = [c, value];
    }
    expected[pixel] = best;
  }
  for (const overlap of [0, 16]) {
    const { classes, tiles } = await predictImage(brightestChannel, image, {
      size: 64,
      overlap,
      numClasses: 3,
      batchSize: 4,
    });
    assertEquals([classes.width, classes.height, classes.channels], [300, 180, 1]);
    assertEquals(tiles, overlap === 0 ? 5 * 3 : 6 * 4);
    assertEquals(classes.data, expected);
  }
});
