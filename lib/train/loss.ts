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
import { type Tensor1D, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
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
 * The sums over pixels (and over the batch) that the loss is a function of. Each is a sum over
 * samples, so the sums of a batch are the sums of its parts ({@link addLossSums}); the loss itself
 * is not (Dice divides sums), which is why micro-batching (lib/train/micro_batch.ts) works on these.
 */
export type LossSums = {
  /** `-Σ t · log softmax(logits)` over non-ignored pixels. */
  crossEntropySum: tf.Scalar;
  /** Number of non-ignored pixels. */
  validCount: tf.Scalar;
  /** Per class, `Σ p · t` (p: softmax probability, t: one-hot label), `[C]`. */
  intersection: Tensor1D;
  /** Per class, `Σ p²` over non-ignored pixels, `[C]`. */
  predictedSum: Tensor1D;
  /** Per class, `Σ t`, `[C]`. */
  targetSum: Tensor1D;
};

/**
 * The {@link LossSums} of class logits `[B, C, h, w]` against labels `[B, H, W]` (logits upsampled
 * to the labels' size first, see {@link segmentationLoss}). The caller disposes them.
 *
 * @example
 * ```ts ignore
 * const sums = lossSums(logits, labels);
 * const loss = lossFromSums(sums); // = segmentationLoss(logits, labels)
 * ```
 */
export function lossSums(logits: Tensor4D, labels: Tensor3D): LossSums {
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

    const logProbabilities = tf.logSoftmax(channelLast);
    const probabilities = tf.softmax(channelLast).mul(validMask);
    return {
      crossEntropySum: tf.neg(tf.sum(target.mul(logProbabilities))) as tf.Scalar,
      validCount: validMask.sum() as tf.Scalar,
      intersection: tf.sum(probabilities.mul(target), 0) as Tensor1D,
      predictedSum: tf.sum(probabilities.square(), 0) as Tensor1D,
      targetSum: tf.sum(target, 0) as Tensor1D,
    };
  });
}

/** Element-wise sum of the {@link LossSums} of disjoint parts of a batch: those of the whole. */
export function addLossSums(parts: readonly LossSums[]): LossSums {
  return tf.tidy(() => {
    const add = (key: keyof LossSums) => tf.addN(parts.map((part) => part[key]));
    return {
      crossEntropySum: add("crossEntropySum") as tf.Scalar,
      validCount: add("validCount") as tf.Scalar,
      intersection: add("intersection") as Tensor1D,
      predictedSum: add("predictedSum") as Tensor1D,
      targetSum: add("targetSum") as Tensor1D,
    };
  });
}

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
  return tf.tidy(() => lossFromSums(lossSums(logits, labels), weights));
}

/**
 * The loss ({@link segmentationLoss}) from a batch's {@link LossSums}; differentiable in them.
 *
 * @example
 * ```ts ignore
 * const loss = lossFromSums(addLossSums([lossSums(a, labelsA), lossSums(b, labelsB)]));
 * ```
 */
export function lossFromSums(sums: LossSums, weights: LossWeights = {}): tf.Scalar {
  const ceWeight = weights.crossEntropy ?? 0.2;
  const diceWeight = weights.dice ?? 0.8;
  return tf.tidy(() => {
    const crossEntropy = sums.crossEntropySum.div(tf.maximum(sums.validCount, 1));
    const dice = tf.sub(
      1,
      sums.intersection.mul(2).add(DICE_SMOOTH).div(
        sums.predictedSum.add(sums.targetSum).add(DICE_SMOOTH),
      ),
    ).mean();
    return crossEntropy.mul(ceWeight).add(dice.mul(diceWeight)) as tf.Scalar;
  });
}
