/**
 * MESS's scores from a confusion matrix (its `sem_seg_evaluation.py`, a modified detectron2
 * SemSegEvaluator), in percent:
 *
 * - per class c: `tp = conf[c][c]`, `posGt` = column sum, `posPred` = row sum;
 * - IoU = tp / (posGt + posPred - tp) for every class with posGt + posPred > 0: a class that is
 *   predicted but absent from the ground truth scores 0 and counts in the mean (unlike current
 *   detectron2); a class absent from both is `null` and left out;
 * - mIoU = mean of those IoUs; mACC = mean of tp / posGt over classes with posGt > 0;
 *   pACC = Σ tp / Σ posGt; fwIoU = Σ over classes with posGt > 0 of IoU · posGt / Σ posGt.
 *
 * @module
 */
import type { ConfusionMatrix } from "./confusion.ts";

/** Scores of one evaluation, in percent; `null` where nothing was there to score. */
export interface SegmentationScores {
  miou: number | null;
  macc: number | null;
  pacc: number | null;
  fwiou: number | null;
  /** Per class: IoU, or `null` for a class neither predicted nor present. */
  iou: (number | null)[];
  /** Per class: accuracy (recall), or `null` for a class absent from the ground truth. */
  acc: (number | null)[];
  /** mIoU over the classes of interest, when they were given. */
  coiMiou?: number | null;
  /** mACC over the classes of interest, when they were given. */
  coiMacc?: number | null;
}

/**
 * Computes MESS's scores.
 *
 * @example
 * ```ts
 * import { ConfusionMatrix } from "./confusion.ts";
 * import { computeScores } from "./scores.ts";
 * const scores = computeScores(ConfusionMatrix.fromRows([[3, 1], [0, 4]]));
 * scores.pacc; // 87.5
 * ```
 */
export function computeScores(
  matrix: ConfusionMatrix,
  options: { classesOfInterest?: readonly number[] } = {},
): SegmentationScores {
  const n = matrix.numClasses;
  const posGt = new Float64Array(n);
  const posPred = new Float64Array(n);
  const tp = new Float64Array(n);
  for (let pred = 0; pred < n; pred++) {
    for (let gt = 0; gt < n; gt++) {
      const count = matrix.get(pred, gt);
      posPred[pred]! += count;
      posGt[gt]! += count;
    }
    tp[pred] = matrix.get(pred, pred);
  }
  const totalGt = posGt.reduce((sum, value) => sum + value, 0);
  const iou: (number | null)[] = [];
  const acc: (number | null)[] = [];
  let fwiou = 0;
  for (let c = 0; c < n; c++) {
    const union = posGt[c]! + posPred[c]! - tp[c]!;
    iou.push(posGt[c]! + posPred[c]! > 0 ? tp[c]! / union : null);
    acc.push(posGt[c]! > 0 ? tp[c]! / posGt[c]! : null);
    if (posGt[c]! > 0) fwiou += (iou[c]! * posGt[c]!) / totalGt;
  }
  const tpSum = tp.reduce((sum, value) => sum + value, 0);
  const scores: SegmentationScores = {
    miou: percentMean(iou),
    macc: percentMean(acc),
    pacc: totalGt > 0 ? (100 * tpSum) / totalGt : null,
    fwiou: totalGt > 0 ? 100 * fwiou : null,
    iou: iou.map(percent),
    acc: acc.map(percent),
  };
  if (options.classesOfInterest) {
    for (const c of options.classesOfInterest) {
      if (!Number.isInteger(c) || c < 0 || c >= n) {
        throw new RangeError(`Class of interest ${c} is not a class (${n} classes)`);
      }
    }
    scores.coiMiou = percentMean(options.classesOfInterest.map((c) => iou[c]!));
    scores.coiMacc = percentMean(options.classesOfInterest.map((c) => acc[c]!));
  }
  return scores;
}

function percent(value: number | null): number | null {
  return value === null ? null : 100 * value;
}

/** 100 × the mean of the non-null values; `null` when there are none. */
function percentMean(values: readonly (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null);
  if (present.length === 0) return null;
  return (100 * present.reduce((sum, value) => sum + value, 0)) / present.length;
}
