/**
 * Class-wise non-maximum suppression: merging the detections of overlapping tiles.
 *
 * @module
 */
import type { BoxXyxy } from "../decoder/masks_to_boxes.ts";

/** What NMS needs of a detection. */
export interface ScoredBox {
  classIndex: number;
  score: number;
  /** Continuous coordinates, x2 and y2 exclusive (see lib/decoder/masks_to_boxes.ts). */
  box: BoxXyxy;
}

/**
 * Intersection over union of two boxes on continuous coordinates (area `(x2 - x1)(y2 - y1)`, no
 * +1); 0 when both are empty.
 *
 * @example
 * ```ts
 * import { boxIou } from "./nms.ts";
 * boxIou([0, 0, 2, 2], [1, 0, 3, 2]); // 2 / 6
 * ```
 */
export function boxIou(a: BoxXyxy, b: BoxXyxy): number {
  const width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const intersection = width > 0 && height > 0 ? width * height : 0;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Greedy NMS per class, as torchvision's `batched_nms`: detections by decreasing score (stable:
 * the earlier of two equal scores first); each one kept unless its IoU with an already kept box
 * of the same class is above `iouThreshold`. Returns the kept ones by decreasing score.
 *
 * @example
 * ```ts
 * import { classwiseNms } from "./nms.ts";
 * classwiseNms([
 *   { classIndex: 0, score: 0.9, box: [0, 0, 10, 10] },
 *   { classIndex: 0, score: 0.8, box: [1, 0, 11, 10] }, // IoU 0.82 with the first: dropped
 *   { classIndex: 1, score: 0.7, box: [1, 0, 11, 10] }, // another class: kept
 * ], 0.5).length; // 2
 * ```
 */
export function classwiseNms<T extends ScoredBox>(
  detections: readonly T[],
  iouThreshold = 0.5,
): T[] {
  const order = detections.map((_, i) => i).sort((i, j) =>
    detections[j]!.score - detections[i]!.score || i - j
  );
  const keptByClass = new Map<number, T[]>();
  const kept: T[] = [];
  for (const i of order) {
    const detection = detections[i]!;
    const sameClass = keptByClass.get(detection.classIndex) ?? [];
    if (sameClass.some((other) => boxIou(other.box, detection.box) > iouThreshold)) continue;
    sameClass.push(detection);
    keptByClass.set(detection.classIndex, sameClass);
    kept.push(detection);
  }
  return kept;
}
