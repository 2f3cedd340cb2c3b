/**
 * Class-wise non-maximum suppression: merging the detections of overlapping tiles.
 *
 * @module
 */
import type { BoxXyxy } from "../decoder/masks_to_boxes.ts";
import { boxIou } from "../metrics/coco_eval.ts";

const xywh = ([x1, y1, x2, y2]: BoxXyxy): [number, number, number, number] => [
  x1,
  y1,
  x2 - x1,
  y2 - y1,
];

/** What NMS needs of a detection. */
export interface ScoredBox {
  classIndex: number;
  score: number;
  /** Continuous coordinates, x2 and y2 exclusive (see lib/decoder/masks_to_boxes.ts). */
  box: BoxXyxy;
}

/**
 * Greedy NMS per class, as torchvision's `batched_nms` (IoU on continuous coordinates, no +1): detections by decreasing score (stable:
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
    if (
      sameClass.some((other) => boxIou(xywh(other.box), xywh(detection.box), false) > iouThreshold)
    ) continue;
    sameClass.push(detection);
    keptByClass.set(detection.classIndex, sameClass);
    kept.push(detection);
  }
  return kept;
}
