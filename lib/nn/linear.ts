/**
 * Fully connected layer in PyTorch's weight layout.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { frozenLinear, isFrozen, leanAdd, leanReshape } from "./lean_ops.ts";
import { matMul } from "./matmul.ts";

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
  // A frozen layer (the encoder's, under PEFT) keeps nothing for the backward pass.
  if (isFrozen(weight) && isFrozen(bias)) return frozenLinear(x, weight, bias);
  return tf.tidy(() => {
    const inFeatures = x.shape[x.shape.length - 1]!;
    const outFeatures = weight.shape[0]!;
    const rows = x.reshape([-1, inFeatures]); // [N, in]
    // Not tf.fused.matMul: its gradient (a tf.customGrad) computes the weight's gradient even when
    // the weight is frozen, and keeps it to the end of the backward pass (1.2 GB for vit_b).
    let y = matMul(rows, weight, false, true); // [N, out]
    // Lean add and reshape: tfjs's keep the product for their shapes only (LoRA's two rank-8
    // updates: 29 MiB per vit_b block at 1024 px).
    if (bias) y = leanAdd(y, bias);
    return leanReshape(y, [...x.shape.slice(0, -1), outFeatures]);
  });
}
