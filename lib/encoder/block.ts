/**
 * One ViT block of SAM's image encoder.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import { gelu } from "../nn/gelu.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { leanAdd } from "../nn/lean_ops.ts";
import { linear } from "../nn/linear.ts";
import { encoderAttention } from "./attention.ts";
import type { BlockExtension } from "./block_hooks.ts";
import { partitionWindows, unpartitionWindows } from "./window.ts";
import type { ModelWeights } from "./weights.ts";

const ENCODER_EPS = 1e-6;

/**
 * `x + attn(norm1(x))` then `x + mlp(norm2(x))` on `[B, H, W, D]` tokens, with windowed attention
 * when `windowSize > 0` (the window padding happens after norm1, with zeros, unmasked, as SAM).
 */
export function encoderBlock(
  x: Tensor4D,
  weights: ModelWeights,
  blockIndex: number,
  extension?: BlockExtension,
): Tensor4D {
  return tf.tidy(() => {
    const arch = weights.architecture.encoder;
    const windowSize = arch.blockWindowSizes[blockIndex]!;
    const p = `image_encoder.blocks.${blockIndex}`;
    const [, height, width] = x.shape;
    const normed = layerNorm(
      x,
      weights.get(`${p}.norm1.weight`),
      weights.get(`${p}.norm1.bias`),
      ENCODER_EPS,
    ) as Tensor4D;
    const windows = windowSize > 0 ? partitionWindows(normed, windowSize) : normed;
    const windowsPerImage = windowSize > 0
      ? Math.ceil(height / windowSize) * Math.ceil(width / windowSize)
      : 1;
    const attended = encoderAttention(
      windows,
      {
        qkvWeight: weights.get(`${p}.attn.qkv.weight`),
        qkvBias: weights.get(`${p}.attn.qkv.bias`),
        projWeight: weights.get(`${p}.attn.proj.weight`),
        projBias: weights.get(`${p}.attn.proj.bias`),
        relPosH: weights.get(`${p}.attn.rel_pos_h`),
        relPosW: weights.get(`${p}.attn.rel_pos_w`),
      },
      arch.numHeads,
      windowsPerImage,
      extension,
    );
    const restored = windowSize > 0
      ? unpartitionWindows(attended, windowSize, height, width)
      : attended;
    const afterAttention = leanAdd(x, restored) as Tensor4D;
    const hidden = gelu(linear(
      layerNorm(
        afterAttention,
        weights.get(`${p}.norm2.weight`),
        weights.get(`${p}.norm2.bias`),
        ENCODER_EPS,
      ),
      weights.get(`${p}.mlp.lin1.weight`),
      weights.get(`${p}.mlp.lin1.bias`),
    ));
    let mlpOutput = linear(
      hidden,
      weights.get(`${p}.mlp.lin2.weight`),
      weights.get(`${p}.mlp.lin2.bias`),
    ) as Tensor4D;
    if (extension?.mlpOutput) mlpOutput = extension.mlpOutput(mlpOutput);
    return leanAdd(afterAttention, mlpOutput) as Tensor4D;
  });
}
