import assert from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { type DetectFn, detectImage } from "../../lib/eval/detect_image.ts";
import { topPairs } from "../../lib/eval/detect_tile.ts";
import type { RasterImage } from "../../lib/image/decode.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

/**
 * An oracle detector: query 0's mask is the bright part of the tile (low-resolution cells whose
 * 4 x 4 pixels are bright: logit +10, else -10), query 1's mask is empty; class logits fixed.
 */
function brightOracle(classLogits: number[][]): DetectFn {
  return (images: Tensor4D) =>
    tf.tidy(() => {
      const [batch, size] = images.shape;
      const brightness = tf.mean(images, 3, true) as Tensor4D; // [B, S, S, 1]
      const cells = tf.avgPool(brightness, 4, 4, "valid").reshape([batch, 1, size / 4, size / 4]);
      const bright = tf.where(
        tf.greater(cells, 0),
        tf.fill(cells.shape, 10),
        tf.fill(cells.shape, -10),
      );
      const empty = tf.fill(cells.shape, -10);
      return {
        masks: tf.concat([bright, empty], 1) as Tensor4D,
        classLogits: tf.tensor3d(
          Array.from({ length: batch }, () => classLogits).flat(2),
          [batch, classLogits.length, classLogits[0]!.length],
        ),
      };
    });
}

/** A black RGB image with a white rectangle [x0, x1) x [y0, y1). */
function imageWithRectangle(
  width: number,
  height: number,
  [x0, y0, x1, y1]: number[],
): RasterImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = y0!; y < y1!; y++) {
    for (let x = x0!; x < x1!; x++) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return { data, width, height, channels: 3 };
}

Deno.test("topPairs(): softmax without the no-object column, best pairs first, ties by index", () => {
  // Query 0: logits (ln 8, 0, 0) -> 0.8, 0.1 (no object 0.1); query 1: all equal -> 1/3 each.
  const logits = new Float32Array([Math.log(8), 0, 0, 0, 0, 0]);
  const pairs = topPairs(logits, 2, 2, 3);
  assert.deepEqual(pairs.map((p) => [p.query, p.classIndex]), [[0, 0], [1, 0], [1, 1]]);
  assert.ok(Math.abs(pairs[0]!.probability - 0.8) < 1e-6);
  assert.ok(Math.abs(pairs[1]!.probability - 1 / 3) < 1e-6);
});

Deno.test("detectImage() on a resized image: the mask's box at the image's resolution, empty masks dropped", async () => {
  // 16 x 12 into S = 32: resized, scale 2. The rectangle [4, 12) x [4, 8) covers tile pixels
  // [8, 24) x [8, 16), low-resolution cells [2, 6) x [2, 4); the ±10 steps cross 0 half-way
  // between cell centres, so the box comes back exactly at the image's resolution.
  const image = imageWithRectangle(16, 12, [4, 4, 12, 8]);
  const { detections, tiles } = await detectImage(
    brightOracle([[Math.log(8), 0, 0], [0, 0, 0]]),
    image,
    { size: 32 },
  );
  assert.equal(tiles, 1);
  // Query 1's mask is empty: only query 0's two classes remain, scores 0.8 m and 0.1 m.
  assert.equal(detections.length, 2);
  assert.deepEqual(detections.map((d) => d.classIndex), [0, 1]);
  for (const d of detections) assert.deepEqual(d.bbox, [4, 4, 8, 4]);
  assert.ok(Math.abs(detections[0]!.score / detections[1]!.score - 8) < 1e-5);
  // The mean sigmoid inside the mask is between sigmoid(0) and 1.
  assert.ok(detections[0]!.score > 0.8 * 0.5 && detections[0]!.score < 0.8);
});

Deno.test("detectImage() on a tiled image: the same object in two overlapping tiles is one detection (NMS)", async () => {
  // 48 x 32 with S = 32, overlap 16: tiles at x = 0 and x = 16; the rectangle [20, 28) x [8, 16)
  // lies in both.
  const image = imageWithRectangle(48, 32, [20, 8, 28, 16]);
  const tensors = tf.memory().numTensors;
  const { detections, tiles } = await detectImage(brightOracle([[3, 0, 0], [0, 0, 0]]), image, {
    size: 32,
    overlap: 16,
    batchSize: 2,
  });
  assert.equal(tiles, 2);
  assert.equal(tf.memory().numTensors, tensors, "no tensor left behind");
  assert.deepEqual(detections.map((d) => [d.classIndex, ...d.bbox]), [
    [0, 20, 8, 8, 8],
    [1, 20, 8, 8, 8],
  ]);
});
