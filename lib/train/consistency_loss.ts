/**
 * MoSA's consistency term: two forward passes of one training step through different expert
 * draws should predict the same per-pixel class distributions. Following the reference code
 * (Theia-4869/MoSA, `symmetric_KL_loss`), the term is the symmetric KL divergence
 * `½ (KL(p₂ ‖ p₁) + KL(p₁ ‖ p₂))`, each side's target held constant (a stop-gradient): the first
 * KL's gradient flows through pass 1 only, the second's through pass 2 only. Divergences are
 * per pixel of the logits `[B, C, h, w]` (the decoder's S/4 grid), summed over the classes and
 * averaged over the batch's pixels.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf } from "../backend/tf.ts";

/**
 * Per-pixel class distributions `[B·h·w, C]` of logits `[B, C, h, w]` (softmax over C), as a
 * constant target for {@link klToTarget}.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const p = classDistributions(tf.zeros([1, 2, 1, 1]) as tf.Tensor4D);
 * p.arraySync(); // [[0.5, 0.5]]
 * ```
 */
export function classDistributions(logits: Tensor4D): Tensor {
  return tf.tidy(() => tf.softmax(perPixel(logits)));
}

/**
 * `KL(target ‖ softmax(logits))` per pixel, averaged over the pixels: `target` (from
 * {@link classDistributions}) is a constant, the gradient flows through `logits` only. Entries
 * where the target is 0 add 0 (the limit of `t log t`).
 *
 * @example
 * ```ts ignore
 * const term = klToTarget(logitsOfPass1, classDistributions(logitsOfPass2)); // KL(p₂ ‖ p₁)
 * ```
 */
export function klToTarget(logits: Tensor4D, target: Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logProbabilities = tf.logSoftmax(perPixel(logits)); // [N, C]
    if (logProbabilities.shape.join() !== target.shape.join()) {
      throw new RangeError(
        `klToTarget(): logits give [${logProbabilities.shape}] distributions, target is [${target.shape}]`,
      );
    }
    const positive = tf.greater(target, 0);
    const entropyTerm = tf.where(
      positive,
      tf.mul(target, tf.log(tf.where(positive, target, tf.onesLike(target)))),
      tf.zerosLike(target),
    );
    const perPixelKl = tf.sum(tf.sub(entropyTerm, tf.mul(target, logProbabilities)), -1);
    return tf.mean(perPixelKl) as tf.Scalar;
  });
}

/**
 * The value of the symmetric KL divergence `½ (KL(p_b ‖ p_a) + KL(p_a ‖ p_b))` between the
 * per-pixel class distributions of two logit maps `[B, C, h, w]`, averaged over the pixels.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const a = tf.tensor4d([0, 0], [1, 2, 1, 1]);
 * symmetricKl(a, a).dataSync()[0]; // 0
 * ```
 */
export function symmetricKl(logitsA: Tensor4D, logitsB: Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const a = classDistributions(logitsA);
    const b = classDistributions(logitsB);
    return tf.mul(tf.add(klToTarget(logitsA, b), klToTarget(logitsB, a)), 0.5) as tf.Scalar;
  });
}

/** `[B, C, h, w]` -> `[B·h·w, C]`. */
function perPixel(logits: Tensor4D): Tensor {
  const classes = logits.shape[1];
  return tf.transpose(logits, [0, 2, 3, 1]).reshape([-1, classes]);
}
