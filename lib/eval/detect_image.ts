/**
 * Detecting the objects of a whole image of any size: cut into tiles, the detection head on each,
 * each tile's detections in source pixels (lib/eval/detect_tile.ts), the tiles' detections merged
 * by class-wise NMS at IoU 0.5, the best 100 kept.
 *
 * @module
 */
import type { Tensor4D } from "../backend/tf.ts";
import { tf } from "../backend/tf.ts";
import type { BoxXywh } from "../image/box.ts";
import { cutTiles, type Tile } from "../data/tiler.ts";
import type { DetectionOutput } from "../decoder/detection_head.ts";
import type { RasterImage } from "../image/decode.ts";
import type { ScoredDetection } from "../data/detections.ts";
import { tilesToBatch } from "../train/tile_batch.ts";
import { type BoxDetection, MAX_DETECTIONS, tileDetections } from "./detect_tile.ts";
import { classwiseNms } from "./nms.ts";

/** A detection model: normalised, padded tiles `[B, S, S, 3]` -> masks and class logits. */
export type DetectFn = (images: Tensor4D) => DetectionOutput;

/** IoU above which NMS drops the weaker of two same-class boxes from different tiles. */
export const TILE_NMS_IOU = 0.5;

/** Options of {@link detectImage}. */
export interface DetectImageOptions {
  /** Model input side S. */
  size: number;
  /** Pixels shared by neighbouring tiles of a large image; default 0. */
  overlap?: number;
  /** Tiles per forward pass; default 1. */
  batchSize?: number;
  /** Detections kept per image; default 100. */
  maxDetections?: number;
}

/** What {@link detectImage} returns. */
export interface ImageDetections {
  /** By decreasing score; boxes xywh in source pixels (COCO's form). */
  detections: ScoredDetection[];
  tiles: number;
}

/**
 * The detections of `image` (RGB, any size).
 *
 * @example
 * ```ts ignore
 * const { detections } = await detectImage((x) => model.detect(x), await decodeRgb("a.jpg"), { size: 1024 });
 * ```
 */
export async function detectImage(
  detect: DetectFn,
  image: RasterImage,
  options: DetectImageOptions,
): Promise<ImageDetections> {
  const { size, overlap = 0, batchSize = 1, maxDetections = MAX_DETECTIONS } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Batch size must be a positive integer, got ${batchSize}`);
  }
  const found: BoxDetection[] = [];
  let tiles = 0;
  let batch: Tile[] = [];
  const flush = async () => {
    const { images } = tilesToBatch(batch);
    const output = detect(images);
    images.dispose();
    const [, queries, lowRes] = output.masks.shape;
    const [masks, classes] = await Promise.all([output.masks.data(), output.classLogits.data()]);
    tf.dispose([output.masks, output.classLogits]);
    const perMasks = queries * lowRes * lowRes;
    const perClasses = classes.length / batch.length;
    for (const [b, tile] of batch.entries()) {
      found.push(
        ...await tileDetections(
          (classes as Float32Array).subarray(b * perClasses, (b + 1) * perClasses),
          (masks as Float32Array).subarray(b * perMasks, (b + 1) * perMasks),
          queries,
          lowRes,
          tile,
          maxDetections,
        ),
      );
    }
    tiles += batch.length;
    batch = [];
  };
  for await (const tile of cutTiles(image, null, { size, overlap })) {
    batch.push(tile);
    if (batch.length === batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  const merged = tiles > 1
    ? classwiseNms(found, TILE_NMS_IOU)
    : [...found].sort((a, b) => b.score - a.score);
  return {
    detections: merged.slice(0, maxDetections).map((d) => ({
      classIndex: d.classIndex,
      score: d.score,
      bbox: [d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] as BoxXywh,
    })),
    tiles,
  };
}
