/**
 * Fully connected layer in PyTorch's weight layout.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { matMul } from "./matmul.ts";
import { blasFor } from "../backend/blas_matmul.ts";

/**
 * `x @ weightᵀ + bias` over the last axis of `x`, with `weight` as PyTorch stores it:
 * `[outFeatures, inFeatures]`. Any leading axes are kept.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const y = linear(tf.ones([2, 3]), tf.ones([4, 3]), tf.zeros([4]));
 * y.shape; // [2, 4]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return tf.tidy(() => {
    const inFeatures = x.shape[x.shape.length - 1]!;
    const outFeatures = weight.shape[0]!;
    const rows = x.reshape([-1, inFeatures]); // [N, in]
    let y: Tensor;
    if (bias && blasFor(tf.getBackend())) {
      // The native product writes the bias into its output: no separate pass to add it.
      y = tf.fused.matMul({
        a: rows as tf.Tensor2D,
        b: weight as tf.Tensor2D,
        transposeB: true,
        bias,
      });
    } else {
      y = matMul(rows, weight, false, true); // [N, out]
      if (bias) y = tf.add(y, bias);
    }
    return y.reshape([...x.shape.slice(0, -1), outFeatures]);
  });
}
