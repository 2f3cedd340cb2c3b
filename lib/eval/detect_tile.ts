/**
 * One tile's detections from the detection head's output, as RSPrompter and mmdet post-process
 * instance predictions: class probabilities by softmax with the "no object" column left out, the
 * top 100 (query, class) pairs, each query's mask (logit > 0) at the source image's resolution and
 * its box (Masks2Boxes), score = class probability x the mask's mean sigmoid.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { TilePlacement } from "../data/tiler.ts";
import { type BoxXyxy, type MaskBox, maskToBox } from "../decoder/masks_to_boxes.ts";
import { resizeBilinear } from "../image/resample.ts";
import { upsampleLogits } from "../train/upsample.ts";

/** Pairs kept per image (COCO's maxDets). */
export const MAX_DETECTIONS = 100;

/** A detection in source-image pixels. */
export interface BoxDetection {
  classIndex: number;
  score: number;
  /** Source-image pixels, x2 and y2 exclusive. */
  box: BoxXyxy;
  /** The query it came from. */
  query: number;
}

/** Queries whose masks go to the backend at once, to bound memory at 1024 px. */
const MASK_CHUNK = 8;

/**
 * The detections of one tile. `classLogits` is `[Q, C + 1]`, `maskLogits` `[Q, h, w]` (the
 * decoder's low-resolution masks); each chosen query's mask is upsampled bilinearly to the tile
 * (S x S), cropped to its content, and, for a resized image, resized back to the source size,
 * before its box is taken; boxes come out in source pixels.
 *
 * @example
 * ```ts ignore
 * const detections = await tileDetections(classLogits, maskLogits, queries, lowRes, tile);
 * ```
 */
export async function tileDetections(
  classLogits: Float32Array,
  maskLogits: Float32Array,
  queries: number,
  lowResSize: number,
  tile: TilePlacement,
  maxDetections = MAX_DETECTIONS,
): Promise<BoxDetection[]> {
  const channels = classLogits.length / queries;
  const classes = channels - 1;
  const pairs = topPairs(classLogits, queries, classes, maxDetections);
  const wanted = [...new Set(pairs.map((p) => p.query))].sort((a, b) => a - b);
  const boxes = new Map<number, MaskBox | null>();
  const cells = lowResSize * lowResSize;
  for (let start = 0; start < wanted.length; start += MASK_CHUNK) {
    const chunk = wanted.slice(start, start + MASK_CHUNK);
    const low = new Float32Array(chunk.length * cells);
    chunk.forEach((q, i) => low.set(maskLogits.subarray(q * cells, (q + 1) * cells), i * cells));
    const full = tf.tidy(() =>
      upsampleLogits(
        tf.tensor4d(low, [1, chunk.length, lowResSize, lowResSize]),
        tile.size,
        tile.size,
      )
    );
    const values = await full.data() as Float32Array;
    full.dispose();
    const area = tile.size * tile.size;
    chunk.forEach((q, i) => {
      boxes.set(q, maskBoxInSource(values.subarray(i * area, (i + 1) * area), tile));
    });
  }
  const detections: BoxDetection[] = [];
  for (const { query, classIndex, probability } of pairs) {
    const mask = boxes.get(query);
    if (!mask) continue; // an empty mask is no detection
    detections.push({
      classIndex,
      query,
      box: mask.box,
      score: probability * mask.meanProbability,
    });
  }
  return detections;
}

/**
 * The `count` best (query, class) pairs by class probability (softmax over the C + 1 logits, the
 * "no object" column not a class), ties to the lower flat index `query · C + class`.
 *
 * @example
 * ```ts
 * import { topPairs } from "./detect_tile.ts";
 * // One query, 2 classes + no object: probabilities 0.8, 0.1 (no object 0.1).
 * topPairs(new Float32Array([Math.log(8), 0, 0]), 1, 2, 1); // [{ query: 0, classIndex: 0, probability: 0.8 }]
 * ```
 */
export function topPairs(
  classLogits: Float32Array,
  queries: number,
  classes: number,
  count: number,
): { query: number; classIndex: number; probability: number }[] {
  const channels = classes + 1;
  const all: { query: number; classIndex: number; probability: number }[] = [];
  for (let q = 0; q < queries; q++) {
    const row = classLogits.subarray(q * channels, (q + 1) * channels);
    let max = -Infinity;
    for (const value of row) max = Math.max(max, value);
    let sum = 0;
    for (const value of row) sum += Math.exp(value - max);
    for (let c = 0; c < classes; c++) {
      all.push({ query: q, classIndex: c, probability: Math.exp(row[c]! - max) / sum });
    }
  }
  // Array.prototype.sort is stable: equal probabilities keep their flat order.
  return all.sort((a, b) => b.probability - a.probability).slice(0, count);
}

/** The box of a tile-resolution mask `[S, S]` in source pixels. */
function maskBoxInSource(mask: Float32Array, tile: TilePlacement): MaskBox | null {
  const { size, validWidth, validHeight } = tile;
  const content = new Float32Array(validWidth * validHeight);
  for (let row = 0; row < validHeight; row++) {
    content.set(mask.subarray(row * size, row * size + validWidth), row * validWidth);
  }
  if (tile.scale !== 1) {
    const resized = resizeBilinear(
      content,
      { width: validWidth, height: validHeight, channels: 1 },
      { width: tile.sourceWidth, height: tile.sourceHeight },
    );
    return maskToBox(resized, tile.sourceWidth, tile.sourceHeight);
  }
  const found = maskToBox(content, validWidth, validHeight);
  if (!found) return null;
  const [x1, y1, x2, y2] = found.box;
  return { ...found, box: [x1 + tile.x, y1 + tile.y, x2 + tile.x, y2 + tile.y] };
}
