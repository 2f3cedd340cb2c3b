/**
 * Layer normalisation over the last axis.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { frozenLayerNorm, isFrozen } from "./lean_ops.ts";

/**
 * Normalises `x` over its last axis and applies the affine `weight` and `bias`. SAM's encoder and
 * every LayerNorm2d (applied here to channel-last tensors) use `eps = 1e-6`; the decoder's
 * two-way transformer uses PyTorch's default `1e-5`.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const y = layerNorm(tf.tensor2d([[1, 2, 3]]), tf.ones([3]), tf.zeros([3]), 1e-6);
 * y.shape; // [1, 3]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  // Frozen (the encoder's, under PEFT): the backward pass keeps only x.
  if (isFrozen(weight) && isFrozen(bias)) return frozenLayerNorm(x, weight, bias, eps);
  return tf.tidy(() => {
    const axis = x.shape.length - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normalised, weight), bias);
  });
}
