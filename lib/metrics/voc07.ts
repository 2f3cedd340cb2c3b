/**
 * The DOTA/FAIR-1M detection score: per class, PASCAL VOC 2007's 11-point AP at IoU > 0.5, as the
 * DOTA devkit's `voc_eval(..., use_07_metric=True)` computes it.
 *
 * - Positives: the class's ground truths that are neither `difficult` nor crowd regions.
 * - Detections of the class, over all images, sorted by score (stable: ties keep image-id order,
 *   then input order); each is compared with every ground truth of its image and class, and its
 *   best IoU decides: above 0.5 on a positive not yet taken, a true positive; on one already
 *   taken, a false positive (duplicate); on a difficult or crowd one, neither; otherwise a false
 *   positive.
 * - AP = mean over recall levels 0, 0.1, ..., 1 of the highest precision at recall ≥ the level
 *   (0 when never reached).
 * - IoU on axis-aligned xywh boxes without +1 (the project's box convention, and what DOTA's
 *   polygon IoU gives on axis-aligned boxes).
 *
 * A class without positives has no AP (`null`) and is left out of means.
 *
 * @module
 */
import { boxIou } from "./coco_eval.ts";
import type { EvalImage } from "../data/detections.ts";

/** IoU a match must exceed. */
export const VOC07_IOU_THRESHOLD = 0.5;

/**
 * VOC07 11-point AP of each class (fractions; `null` for a class without positives).
 *
 * @example
 * ```ts
 * import { voc07ApPerClass } from "./voc07.ts";
 * const truth = { classIndex: 0, bbox: [0, 0, 10, 10] as [number, number, number, number],
 *   area: 100, iscrowd: false, difficult: false };
 * voc07ApPerClass([{
 *   id: 1,
 *   objects: [truth, { ...truth, bbox: [50, 50, 10, 10] }],
 *   detections: [{ classIndex: 0, bbox: [0, 0, 10, 10], score: 0.9 }],
 * }], 1); // [6 / 11]: recall 0.5 at precision 1
 * ```
 */
export function voc07ApPerClass(
  images: readonly EvalImage[],
  numClasses: number,
): (number | null)[] {
  const sorted = [...images].sort((a, b) => a.id - b.id);
  const result: (number | null)[] = [];
  for (let k = 0; k < numClasses; k++) {
    let positives = 0;
    const candidates: { image: number; bbox: EvalImage["detections"][number]["bbox"] }[] = [];
    const scores: number[] = [];
    const truths = sorted.map((image) => image.objects.filter((o) => o.classIndex === k));
    sorted.forEach((image, i) => {
      positives += truths[i]!.filter((o) => !o.difficult && !o.iscrowd).length;
      for (const detection of image.detections) {
        if (detection.classIndex !== k) continue;
        candidates.push({ image: i, bbox: detection.bbox });
        scores.push(detection.score);
      }
    });
    if (positives === 0) {
      result.push(null);
      continue;
    }
    const order = candidates.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const taken = truths.map((list) => new Uint8Array(list.length));
    const tp: number[] = [];
    const fp: number[] = [];
    let tpSum = 0;
    let fpSum = 0;
    for (const index of order) {
      const { image, bbox } = candidates[index]!;
      let best = -Infinity;
      let match = -1;
      truths[image]!.forEach((truth, g) => {
        const iou = boxIou(bbox, truth.bbox, false);
        if (iou > best) {
          best = iou;
          match = g;
        }
      });
      if (best > VOC07_IOU_THRESHOLD) {
        const truth = truths[image]![match]!;
        if (!truth.difficult && !truth.iscrowd) {
          if (!taken[image]![match]) {
            taken[image]![match] = 1;
            tpSum++;
          } else {
            fpSum++;
          }
        }
      } else {
        fpSum++;
      }
      tp.push(tpSum);
      fp.push(fpSum);
    }
    result.push(elevenPointAp(tp, fp, positives));
  }
  return result;
}

/**
 * VOC07's 11-point AP from cumulative true and false positive counts.
 *
 * @example
 * ```ts
 * import { elevenPointAp } from "./voc07.ts";
 * elevenPointAp([1, 1, 2], [0, 1, 1], 2); // (6 * 1 + 5 * 2/3) / 11
 * ```
 */
export function elevenPointAp(
  tp: readonly number[],
  fp: readonly number[],
  positives: number,
): number {
  const recall = tp.map((value) => value / positives);
  const precision = tp.map((value, i) => value / Math.max(value + fp[i]!, Number.EPSILON));
  let ap = 0;
  for (let step = 0; step <= 10; step++) {
    // numpy's arange(0, 1.1, 0.1): step * 0.1, so 0.30000000000000004 as there.
    const level = step * 0.1;
    let best = 0;
    for (let i = 0; i < recall.length; i++) {
      if (recall[i]! >= level && precision[i]! > best) best = precision[i]!;
    }
    ap += best / 11;
  }
  return ap;
}
