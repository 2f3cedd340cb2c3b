/**
 * Matching object queries to ground-truth objects, per image, as Mask2Former does: the
 * assignment of least total cost, the cost of query q for object j being
 * `class · (−p_q(c_j)) + mask · BCE(m_q, t_j) + dice · Dice(m_q, t_j)`, with p the softmax over
 * the C + 1 class logits, BCE the mean binary cross-entropy of the mask logits over the pixels,
 * and Dice `1 − (2 Σ σ(m) t + 1) / (Σ σ(m) + Σ t + 1)`. The costs are read off the current
 * predictions and carry no gradient.
 *
 * @module
 */
import { type Assignment, minimumCostAssignment } from "./hungarian.ts";

/** Weights of the three matching costs (RSPrompter's: class 2, mask BCE 5, Dice 5). */
export interface MatchCostWeights {
  classCost?: number;
  maskCost?: number;
  diceCost?: number;
}

/** One image's predictions as plain arrays. */
export interface QueryPredictions {
  /** `[Q, C + 1]` class logits. */
  classLogits: Float32Array;
  /** `[Q, P]` mask logits over the P pixels of the decoder's output. */
  maskLogits: Float32Array;
  queries: number;
}

/** One image's objects: classes and `[n, P]` 0/1 masks. */
export interface ObjectTargets {
  classes: Int32Array;
  masks: Float32Array;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * The `[Q, n]` matching cost matrix (row-major) of one image.
 *
 * @example
 * ```ts ignore
 * const cost = matchingCosts(predictions, targets); // Float64Array of Q * n
 * ```
 */
export function matchingCosts(
  predictions: QueryPredictions,
  targets: ObjectTargets,
  weights: MatchCostWeights = {},
): Float64Array {
  const { classCost = 2, maskCost = 5, diceCost = 5 } = weights;
  const { queries, classLogits, maskLogits } = predictions;
  const objects = targets.classes.length;
  const channels = classLogits.length / queries;
  const pixels = maskLogits.length / queries;
  if (targets.masks.length !== objects * pixels) {
    throw new RangeError(
      `Targets hold ${targets.masks.length / Math.max(objects, 1)} pixels per mask, the ` +
        `predictions ${pixels}`,
    );
  }
  // Each target's pixels that are on: the costs need sums over them only.
  const onPixels: Int32Array[] = [];
  for (let j = 0; j < objects; j++) {
    const mask = targets.masks.subarray(j * pixels, (j + 1) * pixels);
    const on: number[] = [];
    for (let i = 0; i < pixels; i++) if (mask[i]! > 0.5) on.push(i);
    onPixels.push(Int32Array.from(on));
  }
  const cost = new Float64Array(queries * objects);
  const negative = new Float64Array(pixels); // softplus(x): BCE of a pixel whose target is 0
  const positive = new Float64Array(pixels); // softplus(-x): target 1
  const probability = new Float64Array(pixels);
  for (let q = 0; q < queries; q++) {
    const logits = classLogits.subarray(q * channels, (q + 1) * channels);
    let max = -Infinity;
    for (const value of logits) max = Math.max(max, value);
    let denominator = 0;
    for (const value of logits) denominator += Math.exp(value - max);
    const mask = maskLogits.subarray(q * pixels, (q + 1) * pixels);
    let negativeSum = 0;
    let probabilitySum = 0;
    for (let i = 0; i < pixels; i++) {
      const x = mask[i]!;
      negative[i] = softplus(x);
      positive[i] = softplus(-x);
      probability[i] = 1 / (1 + Math.exp(-x));
      negativeSum += negative[i]!;
      probabilitySum += probability[i]!;
    }
    for (let j = 0; j < objects; j++) {
      const on = onPixels[j]!;
      let positiveOn = 0;
      let negativeOn = 0;
      let overlap = 0;
      for (const i of on) {
        positiveOn += positive[i]!;
        negativeOn += negative[i]!;
        overlap += probability[i]!;
      }
      const classProbability = Math.exp(logits[targets.classes[j]!]! - max) / denominator;
      const bce = (positiveOn + negativeSum - negativeOn) / pixels;
      const dice = 1 - (2 * overlap + 1) / (probabilitySum + on.length + 1);
      cost[q * objects + j] = -classCost * classProbability + maskCost * bce + diceCost * dice;
    }
  }
  return cost;
}

/**
 * The least-cost assignment of queries (rows) to objects (columns) of one image: one pair per
 * object when there are at least as many queries as objects.
 *
 * @example
 * ```ts ignore
 * for (const { row: query, column: object } of matchQueries(predictions, targets)) { ... }
 * ```
 */
export function matchQueries(
  predictions: QueryPredictions,
  targets: ObjectTargets,
  weights: MatchCostWeights = {},
): Assignment[] {
  const objects = targets.classes.length;
  if (objects === 0) return [];
  const cost = matchingCosts(predictions, targets, weights);
  return minimumCostAssignment(cost, predictions.queries, objects);
}
