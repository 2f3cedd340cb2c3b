/**
 * The semantic-segmentation loss of SAMed and MoPEFT: cross-entropy plus a softmax Dice term,
 * both ignoring label 255.
 *
 * The decoder's low-resolution logits (S/4) are upsampled bilinearly to the label's S x S before
 * the loss (what SAM's postprocessing does, and what the scores are computed on); downsampling
 * the labels with nearest neighbour would be cheaper but trains a different function than the
 * one evaluated at full resolution.
 *
 * @module
 */
import { type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import { upsampleLogits } from "./upsample.ts";

/** Label value that never contributes to the loss. */
export const IGNORE_LABEL = 255;

/** Weights of the two loss terms (SAMed: 0.2 cross-entropy + 0.8 Dice). */
export interface LossWeights {
  /** Weight of the cross-entropy term; default 0.2. */
  crossEntropy?: number;
  /** Weight of the Dice term; default 0.8. */
  dice?: number;
}

/** SAMed's Dice smoothing constant, added to numerator and denominator. */
const DICE_SMOOTH = 1e-5;

/**
 * Loss of class logits against integer labels, a scalar:
 *
 * - cross-entropy: mean over non-ignored pixels of `-log softmax(logits)[label]` (0 when every
 *   pixel is ignored);
 * - Dice (SAMed's `DiceLoss` with softmax, restricted to non-ignored pixels): per class c, with p
 *   the softmax probability and t the one-hot label, summed over the batch and all pixels,
 *   `1 - (2 Σ p t + ε) / (Σ p² + Σ t + ε)`, ε = 1e-5, averaged over the classes.
 *
 * `logits` is `[B, C, h, w]`; when `h, w` differ from the labels' `[B, H, W]`, the logits are first
 * upsampled bilinearly with half-pixel centres (see {@link upsampleLogits}).
 *
 * @example
 * ```ts ignore
 * const loss = segmentationLoss(model.forward(images), labels); // labels int32 [B, S, S]
 * ```
 */
export function segmentationLoss(
  logits: Tensor4D,
  labels: Tensor3D,
  weights: LossWeights = {},
): tf.Scalar {
  const ceWeight = weights.crossEntropy ?? 0.2;
  const diceWeight = weights.dice ?? 0.8;
  return tf.tidy(() => {
    const [batch, classes] = logits.shape;
    const [labelBatch, height, width] = labels.shape;
    if (labelBatch !== batch) {
      throw new RangeError(`Loss got ${batch} logit maps and ${labelBatch} label maps`);
    }
    const full = upsampleLogits(logits, height, width); // [B, C, H, W]
    const channelLast = full.transpose([0, 2, 3, 1]).reshape([-1, classes]); // [N, C]
    const flatLabels = labels.reshape([-1]).toInt();
    const valid = tf.notEqual(flatLabels, IGNORE_LABEL); // [N]
    const validMask = valid.toFloat().expandDims(1); // [N, 1]
    const safeLabels = tf.where(valid, flatLabels, tf.zerosLike(flatLabels));
    const target = tf.oneHot(safeLabels, classes).toFloat().mul(validMask); // [N, C], 0 if ignored
    const validCount = tf.maximum(validMask.sum(), 1);

    const logProbabilities = tf.logSoftmax(channelLast);
    const crossEntropy = tf.neg(tf.sum(target.mul(logProbabilities))).div(validCount);

    const probabilities = tf.softmax(channelLast).mul(validMask);
    const intersection = tf.sum(probabilities.mul(target), 0); // [C]
    const predictedSum = tf.sum(probabilities.square(), 0);
    const targetSum = tf.sum(target, 0);
    const dice = tf.sub(
      1,
      intersection.mul(2).add(DICE_SMOOTH).div(predictedSum.add(targetSum).add(DICE_SMOOTH)),
    ).mean();
    return crossEntropy.mul(ceWeight).add(dice.mul(diceWeight)) as tf.Scalar;
  });
}
