/**
 * The exact (erf) GELU that SAM uses.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";

/**
 * `x · Φ(x) = 0.5 · x · (1 + erf(x / √2))`, the exact form (PyTorch's `nn.GELU()` default), not
 * the tanh approximation.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * gelu(tf.tensor1d([0])).dataSync()[0]; // 0
 * ```
 */
export function gelu(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}
