/**
 * COCO box AP, as pycocotools' `COCOeval` (iouType `bbox`) computes it, reimplemented:
 *
 * - IoU thresholds .50:.05:.95 (10), recall points 0:.01:1 (101), area ranges all / small
 *   (≤ 32²) / medium (32²..96²) / large (≥ 96², bounds inclusive as in pycocotools), maxDets 1, 10,
 *   100.
 * - Per image and class: detections sorted by score (stable: ties keep their input order), the top
 *   100 kept; ground truths ordered non-ignored first (ignored: crowd, or area outside the range).
 *   Each detection, in order, takes the unmatched ground truth of highest IoU ≥ the threshold
 *   (a crowd one may be taken again), preferring non-ignored ones; a detection that took an
 *   ignored ground truth is ignored, and so is an unmatched one whose box area is outside the
 *   range. IoU is on xywh boxes without +1; against a crowd region it is intersection over the
 *   detection's area.
 * - Per class, area and maxDets: the images' top detections pooled in image-id order and sorted
 *   by score (stable), precision made monotone from the right and read at the first index whose
 *   recall reaches each recall point (0 past the highest recall). A class with no non-ignored
 *   ground truth is left out (pycocotools' -1).
 * - AP = mean over thresholds, recall points and classes; AR = mean over thresholds and classes
 *   of the final recall.
 *
 * - Annotation ids as pycocotools uses them (`coco_ids.ts`): a detection that takes the ground
 *   truth of id 0 is not counted matched (a false positive; the ground truth stays unfound), and
 *   a repeated id stands for the last annotation carrying it. `ids: "unique"` scores as if every
 *   id were unique and non-zero, which is what those rules cost.
 *
 * Scores here are fractions in [0, 1]; `null` where pycocotools prints -1.
 *
 * @module
 */
import { asPycocotoolsLoadsThem } from "../data/coco_ids.ts";
import type { DetectionObject } from "../data/detection_split.ts";
import type { EvalImage, ScoredDetection } from "../data/detections.ts";
import type { BoxXywh } from "../image/box.ts";

/** IoU thresholds: `linspace(.5, .95, 10)` computed as numpy does. */
export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
/** Recall points: `linspace(0, 1, 101)` computed as numpy does. */
export const COCO_RECALL_POINTS: readonly number[] = linspace(0, 1, 101);
/** Area ranges `[min, max]` (inclusive) of all, small, medium, large. */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];
/** Detections per image counted by AR@1, AR@10 and AP/AR@100. */
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];

/** pycocotools' twelve summary numbers (fractions, `null` for its -1), and per-class APs. */
export interface CocoEvalResult {
  ap: number | null;
  ap50: number | null;
  ap75: number | null;
  apSmall: number | null;
  apMedium: number | null;
  apLarge: number | null;
  ar1: number | null;
  ar10: number | null;
  ar100: number | null;
  arSmall: number | null;
  arMedium: number | null;
  arLarge: number | null;
  /** Per class: AP (area all, maxDets 100), `null` without non-ignored ground truth. */
  perClassAp: (number | null)[];
  /** Per class: AP at IoU .5. */
  perClassAp50: (number | null)[];
}

/** Options of {@link cocoEvaluate}. */
export interface CocoEvalOptions {
  /**
   * `pycocotools` (default): annotation ids count as in pycocotools (module notes);
   * `unique`: as if every id were unique and non-zero.
   */
  ids?: "pycocotools" | "unique";
}

/** One image and class under one area range: pycocotools' `evaluateImg` result. */
interface ImageClassEval {
  /** Scores of the kept detections, sorted. */
  scores: Float64Array;
  /** `matched[t * D + d]`: detection d matched a ground truth at threshold t. */
  matched: Uint8Array;
  /** `ignored[t * D + d]`: detection d is ignored at threshold t. */
  ignored: Uint8Array;
  /** Ground truths that count as positives. */
  positives: number;
}

/**
 * Scores detections against ground truth as pycocotools' COCOeval does (see the module notes).
 *
 * @example
 * ```ts
 * import { cocoEvaluate } from "./coco_eval.ts";
 * const object = { classIndex: 0, bbox: [0, 0, 10, 10] as [number, number, number, number],
 *   area: 100, iscrowd: false, difficult: false };
 * const result = cocoEvaluate([{
 *   id: 1,
 *   objects: [object],
 *   detections: [{ classIndex: 0, bbox: [0, 0, 10, 10], score: 0.9 }],
 * }], 1);
 * result.ap; // 1
 * ```
 */
export function cocoEvaluate(
  images: readonly EvalImage[],
  numClasses: number,
  options: CocoEvalOptions = {},
): CocoEvalResult {
  const asPycocotools = (options.ids ?? "pycocotools") === "pycocotools";
  const sorted = [...images].sort((a, b) => a.id - b.id);
  const objects = asPycocotools
    ? asPycocotoolsLoadsThem(sorted.map((image) => image.objects))
    : sorted.map((image) => image.objects);
  const grouped = sorted.map((image, i) => ({
    objects: byClass(objects[i]!),
    detections: byClass(image.detections),
  }));
  const maxDet = COCO_MAX_DETS[COCO_MAX_DETS.length - 1]!;
  const T = COCO_IOU_THRESHOLDS.length;
  const R = COCO_RECALL_POINTS.length;
  const A = COCO_AREA_RANGES.length;
  const M = COCO_MAX_DETS.length;
  // precision[k][a] (maxDets 100 only: every AP uses it): T*R values, or null when left out.
  const precision: (Float64Array | null)[][] = [];
  // recall[k][a][m]: T values, or null.
  const recall: (Float64Array | null)[][][] = [];
  for (let k = 0; k < numClasses; k++) {
    const perArea: ImageClassEval[][] = Array.from({ length: A }, () => []);
    for (const image of grouped) {
      const gts = image.objects.get(k) ?? [];
      const dts = image.detections.get(k) ?? [];
      if (gts.length === 0 && dts.length === 0) continue;
      const kept = stableOrder(dts.map((d) => -d.score)).slice(0, maxDet).map((i) => dts[i]!);
      const ious = new Float64Array(kept.length * gts.length);
      kept.forEach((d, i) =>
        gts.forEach((g, j) => ious[i * gts.length + j] = boxIou(d.bbox, g.bbox, g.iscrowd))
      );
      for (let a = 0; a < A; a++) {
        perArea[a]!.push(
          evaluateImageClass(gts, kept, ious, COCO_AREA_RANGES[a]!, asPycocotools),
        );
      }
    }
    precision.push([]);
    recall.push([]);
    for (let a = 0; a < A; a++) {
      recall[k]!.push([]);
      for (let m = 0; m < M; m++) {
        const result = accumulate(perArea[a]!, COCO_MAX_DETS[m]!, m === M - 1);
        recall[k]![a]!.push(result?.recall ?? null);
        if (m === M - 1) precision[k]!.push(result?.precision ?? null);
      }
    }
  }
  const meanPrecision = (a: number, threshold: number | null, k?: number) => {
    const values: number[] = [];
    for (let c = 0; c < numClasses; c++) {
      if (k !== undefined && c !== k) continue;
      const table = precision[c]![a];
      if (!table) continue;
      for (let t = 0; t < T; t++) {
        if (threshold !== null && COCO_IOU_THRESHOLDS[t] !== threshold) continue;
        for (let r = 0; r < R; r++) values.push(table[t * R + r]!);
      }
    }
    return mean(values);
  };
  const meanRecall = (a: number, m: number) => {
    const values: number[] = [];
    for (let c = 0; c < numClasses; c++) {
      const table = recall[c]![a]![m];
      if (table) values.push(...table);
    }
    return mean(values);
  };
  const classes = Array.from({ length: numClasses }, (_, k) => k);
  return {
    ap: meanPrecision(0, null),
    ap50: meanPrecision(0, 0.5),
    ap75: meanPrecision(0, 0.75),
    apSmall: meanPrecision(1, null),
    apMedium: meanPrecision(2, null),
    apLarge: meanPrecision(3, null),
    ar1: meanRecall(0, 0),
    ar10: meanRecall(0, 1),
    ar100: meanRecall(0, 2),
    arSmall: meanRecall(1, 2),
    arMedium: meanRecall(2, 2),
    arLarge: meanRecall(3, 2),
    perClassAp: classes.map((k) => meanPrecision(0, null, k)),
    perClassAp50: classes.map((k) => meanPrecision(0, 0.5, k)),
  };
}

/**
 * IoU of a detection box with a ground-truth box (xywh, no +1); against a crowd region,
 * intersection over the detection's area.
 *
 * @example
 * ```ts
 * import { boxIou } from "./coco_eval.ts";
 * boxIou([0, 0, 2, 2], [1, 0, 2, 2], false); // 1/3
 * boxIou([0, 0, 2, 2], [1, 0, 20, 20], true); // 0.5
 * ```
 */
export function boxIou(detection: BoxXywh, truth: BoxXywh, crowd: boolean): number {
  const [dx, dy, dw, dh] = detection;
  const [gx, gy, gw, gh] = truth;
  const w = Math.min(dx + dw, gx + gw) - Math.max(dx, gx);
  if (w <= 0) return 0;
  const h = Math.min(dy + dh, gy + gh) - Math.max(dy, gy);
  if (h <= 0) return 0;
  const intersection = w * h;
  const detectionArea = dw * dh;
  const union = crowd ? detectionArea : detectionArea + gw * gh - intersection;
  return intersection / union;
}

function evaluateImageClass(
  gts: readonly DetectionObject[],
  dts: readonly ScoredDetection[],
  ious: Float64Array,
  [lo, hi]: readonly [number, number],
  zeroIdMatchesNothing: boolean,
): ImageClassEval {
  const G = gts.length;
  const rawIgnore = gts.map((g) => g.iscrowd || g.area < lo || g.area > hi ? 1 : 0);
  const gtOrder = stableOrder(rawIgnore);
  const gtIgnore = gtOrder.map((g) => rawIgnore[g]!);
  const crowd = gtOrder.map((g) => gts[g]!.iscrowd);
  // pycocotools records a match as the ground truth's id: id 0 reads as no match.
  const zeroId = gtOrder.map((g) => zeroIdMatchesNothing && gts[g]!.id === 0);
  const T = COCO_IOU_THRESHOLDS.length;
  const D = dts.length;
  const matched = new Uint8Array(T * D);
  const ignored = new Uint8Array(T * D);
  const gtTaken = new Uint8Array(G);
  for (let t = 0; t < T; t++) {
    gtTaken.fill(0);
    for (let d = 0; d < D; d++) {
      let best = Math.min(COCO_IOU_THRESHOLDS[t]!, 1 - 1e-10);
      let match = -1;
      for (let g = 0; g < G; g++) {
        if (gtTaken[g] && !crowd[g]) continue;
        // Once a real ground truth is matched, ignored ones (sorted last) cannot replace it.
        if (match > -1 && gtIgnore[match] === 0 && gtIgnore[g] === 1) break;
        const iou = ious[d * G + gtOrder[g]!]!;
        if (iou < best) continue;
        best = iou;
        match = g;
      }
      if (match === -1) continue;
      ignored[t * D + d] = gtIgnore[match]!;
      matched[t * D + d] = zeroId[match] ? 0 : 1;
      gtTaken[match] = 1;
    }
    for (let d = 0; d < D; d++) {
      const area = dts[d]!.bbox[2] * dts[d]!.bbox[3];
      if (!matched[t * D + d] && (area < lo || area > hi)) ignored[t * D + d] = 1;
    }
  }
  return {
    scores: Float64Array.from(dts, (d) => d.score),
    matched,
    ignored,
    positives: gtIgnore.filter((value) => value === 0).length,
  };
}

function accumulate(
  evals: readonly ImageClassEval[],
  maxDet: number,
  withPrecision: boolean,
): { precision: Float64Array; recall: Float64Array } | null {
  const positives = evals.reduce((sum, e) => sum + e.positives, 0);
  if (positives === 0) return null;
  const T = COCO_IOU_THRESHOLDS.length;
  const R = COCO_RECALL_POINTS.length;
  let n = 0;
  for (const e of evals) n += Math.min(maxDet, e.scores.length);
  // The images' top detections, concatenated in image order, then sorted by score (stable).
  const negatedScores = new Float64Array(n);
  const source = new Int32Array(n);
  const position = new Int32Array(n);
  let next = 0;
  evals.forEach((e, i) => {
    const count = Math.min(maxDet, e.scores.length);
    for (let d = 0; d < count; d++, next++) {
      negatedScores[next] = -e.scores[d]!;
      source[next] = i;
      position[next] = d;
    }
  });
  const order = stableOrder(negatedScores);
  const precision = new Float64Array(T * R);
  const recall = new Float64Array(T);
  const rc = new Float64Array(n);
  const pr = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      const evaluation = evals[source[j]!]!;
      const at = t * evaluation.scores.length + position[j]!;
      if (!evaluation.ignored[at]) {
        if (evaluation.matched[at]) tp++;
        else fp++;
      }
      rc[i] = tp / positives;
      pr[i] = tp / (fp + tp + Number.EPSILON);
    }
    recall[t] = n > 0 ? rc[n - 1]! : 0;
    if (!withPrecision) continue;
    for (let i = n - 1; i > 0; i--) {
      if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
    }
    let i = 0;
    for (let r = 0; r < R; r++) {
      // numpy searchsorted(rc, point, side="left"): the first index with rc >= point.
      while (i < n && rc[i]! < COCO_RECALL_POINTS[r]!) i++;
      if (i >= n) break;
      precision[t * R + r] = pr[i]!;
    }
  }
  return { precision, recall };
}

/** Items by class index, in input order. */
function byClass<T extends { classIndex: number }>(items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const group = groups.get(item.classIndex);
    if (group) group.push(item);
    else groups.set(item.classIndex, [item]);
  }
  return groups;
}

/** Indices that sort `keys` ascending, ties in input order (numpy's mergesort argsort). */
function stableOrder(keys: ArrayLike<number>): number[] {
  if (keys.length < 2) return keys.length === 0 ? [] : [0];
  return Array.from({ length: keys.length }, (_, i) => i)
    .sort((a, b) => keys[a]! - keys[b]! || a - b);
}

function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** numpy's `linspace(start, stop, num)`: `start + i * step`, the last value exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => i === num - 1 ? stop : i * step + start);
}
