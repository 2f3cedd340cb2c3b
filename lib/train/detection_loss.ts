/**
 * The detection head's training loss (Mask2Former's, with RSPrompter's weights): queries matched
 * to objects per image (lib/train/detection_matching.ts), then cross-entropy on every query's
 * class (the matched object's class, else "no object", weighted 0.1), and binary cross-entropy
 * plus Dice on the matched queries' masks at the decoder's output resolution, each averaged over
 * the batch's objects.
 *
 * Difficult objects (cut by a tile border, mostly outside it: lib/data/detection_tiles.ts) take no
 * loss, as DOTA-trained detectors ignore them: they take part in the matching, so that the query
 * that fits one best is claimed by it, and that query then gets no term at all, neither its class
 * and mask as a target nor a "no object" cross-entropy as a false positive.
 *
 * @module
 */
import { type Tensor2D, tf } from "../backend/tf.ts";
import type { DetectionOutput } from "../decoder/detection_head.ts";
import type { DetectionTargets } from "./detection_targets.ts";
import { type MatchCostWeights, matchQueries } from "./detection_matching.ts";
import type { Assignment } from "./hungarian.ts";

/** Weights of the loss terms and of the matching costs. */
export interface DetectionLossWeights extends MatchCostWeights {
  /** Cross-entropy on the classes; default 2. */
  classLoss?: number;
  /** Mask binary cross-entropy; default 5. */
  maskLoss?: number;
  /** Mask Dice; default 5. */
  diceLoss?: number;
  /** Class weight of "no object" in the cross-entropy; default 0.1. */
  noObjectWeight?: number;
}

/**
 * The loss of a batch's detection output against each image's targets, a scalar:
 * `classLoss · CE + maskLoss · BCE + diceLoss · Dice` where
 *
 * - CE is the weighted mean over the B·Q queries of `−log softmax(classLogits)[target]`, the
 *   target being the matched object's class or C ("no object"), weighted 0.1 for C, 0 for a
 *   query matched to an ignored (difficult) object, and 1 else (PyTorch's `cross_entropy` with
 *   class weights: Σ w·nll / Σ w);
 * - BCE is the per-pixel mean of the sigmoid cross-entropy of each matched mask, summed over the
 *   matched masks (of objects not ignored) and divided by their number (at least 1);
 * - Dice is `1 − (2 Σ σ(m) t + 1) / (Σ σ(m) + Σ t + 1)` per matched mask, likewise averaged.
 *
 * The matching reads the predictions' current values (no gradient flows through it), with a
 * synchronous read; where the backend cannot read synchronously (webgpu), pass `matches` made
 * beforehand by {@link matchBatch} from the same predictions.
 *
 * @example
 * ```ts ignore
 * const loss = detectionLoss(model.detect(images), targets); // targets from rasteriseTargets
 * ```
 */
export function detectionLoss(
  output: DetectionOutput,
  targets: readonly DetectionTargets[],
  weights: DetectionLossWeights = {},
  matches?: readonly Assignment[][],
): tf.Scalar {
  const { classLoss = 2, maskLoss = 5, diceLoss = 5, noObjectWeight = 0.1 } = weights;
  return tf.tidy(() => {
    const [batch, queries, height, width] = output.masks.shape;
    const channels = output.classLogits.shape[2];
    const noObject = channels - 1;
    const pixels = height * width;
    if (targets.length !== batch) {
      throw new RangeError(`Detection loss got ${batch} outputs and ${targets.length} targets`);
    }
    for (const target of targets) {
      if (target.height !== height || target.width !== width) {
        throw new RangeError(
          `Mask targets are ${target.width}x${target.height}, the decoder's masks ${width}x${height}`,
        );
      }
    }
    const pairsOf = matches ?? matchBatch(
      output.masks.dataSync() as Float32Array,
      output.classLogits.dataSync() as Float32Array,
      [batch, queries, pixels, channels],
      targets,
      weights,
    );
    const targetClass = new Int32Array(batch * queries).fill(noObject);
    const classWeights = new Float32Array(batch * queries).fill(noObjectWeight);
    const matchedRows: number[] = [];
    const matchedMasks: Float32Array[] = [];
    targets.forEach((target, b) => {
      for (const { row: query, column: object } of pairsOf[b] ?? []) {
        const classIndex = target.classes[object]!;
        if (classIndex < 0 || classIndex >= noObject) {
          throw new RangeError(`Target class ${classIndex} outside the head's ${noObject} classes`);
        }
        if (target.ignored?.[object]) {
          classWeights[b * queries + query] = 0;
          continue;
        }
        targetClass[b * queries + query] = classIndex;
        classWeights[b * queries + query] = 1;
        matchedRows.push(b * queries + query);
        matchedMasks.push(target.masks.subarray(object * pixels, (object + 1) * pixels));
      }
    });

    const logProbabilities = tf.logSoftmax(output.classLogits.reshape([batch * queries, channels]));
    const oneHot = tf.oneHot(tf.tensor1d(targetClass, "int32"), channels).toFloat();
    const weight = tf.tensor1d(classWeights);
    const nll = tf.neg(tf.sum(tf.mul(oneHot, logProbabilities), 1));
    // Σ w > 0 unless every query is claimed by an ignored object: then there is no class term.
    const crossEntropy = tf.div(tf.sum(tf.mul(nll, weight)), tf.maximum(tf.sum(weight), 1e-12));
    let total = tf.mul(crossEntropy, classLoss);
    if (matchedRows.length > 0) {
      const count = matchedRows.length;
      // Selecting rows by a 0/1 matrix product, not tf.gather: gather's gradient
      // (UnsortedSegmentSum) has no wasm kernel.
      const selection = new Float32Array(count * batch * queries);
      matchedRows.forEach((row, i) => selection[i * batch * queries + row] = 1);
      const logits = tf.matMul(
        tf.tensor2d(selection, [count, batch * queries]),
        output.masks.reshape([batch * queries, pixels]),
      ) as Tensor2D;
      const truth = new Float32Array(count * pixels);
      matchedMasks.forEach((mask, i) => truth.set(mask, i * pixels));
      const t = tf.tensor2d(truth, [count, pixels]);
      // max(x, 0) − x t + log(1 + e^−|x|): the stable sigmoid cross-entropy.
      const bce = tf.add(
        tf.sub(tf.relu(logits), tf.mul(logits, t)),
        tf.log1p(tf.exp(tf.neg(tf.abs(logits)))),
      );
      const bceLoss = tf.div(tf.sum(tf.mean(bce, 1)), count);
      const p = tf.sigmoid(logits);
      const dice = tf.sub(
        1,
        tf.div(
          tf.add(tf.mul(tf.sum(tf.mul(p, t), 1), 2), 1),
          tf.add(tf.add(tf.sum(p, 1), tf.sum(t, 1)), 1),
        ),
      );
      const diceValue = tf.div(tf.sum(dice), count);
      total = tf.add(total, tf.add(tf.mul(bceLoss, maskLoss), tf.mul(diceValue, diceLoss)));
    } else {
      // A batch without objects (tiles of background): the masks still enter, times 0, so that
      // every variable behind them gets a (zero) gradient, as the optimiser expects.
      total = tf.add(total, tf.mul(tf.sum(output.masks), 0));
    }
    return total as tf.Scalar;
  });
}

/**
 * Each image's query-object assignment from a batch's predictions read back as arrays: masks
 * `[B, Q, P]` and class logits `[B, Q, C + 1]` (`shape` = `[B, Q, P, C + 1]`).
 *
 * @example
 * ```ts ignore
 * const matches = matchBatch(await out.masks.data(), await out.classLogits.data(), [2, 100, 65536, 38], targets);
 * ```
 */
export function matchBatch(
  maskValues: Float32Array,
  classValues: Float32Array,
  [batch, queries, pixels, channels]: [number, number, number, number],
  targets: readonly { classes: Int32Array; masks: Float32Array }[],
  weights: MatchCostWeights = {},
): Assignment[][] {
  return Array.from({ length: batch }, (_, b) =>
    matchQueries(
      {
        queries,
        classLogits: classValues.subarray(b * queries * channels, (b + 1) * queries * channels),
        maskLogits: maskValues.subarray(b * queries * pixels, (b + 1) * queries * pixels),
      },
      targets[b]!,
      weights,
    ));
}
