/**
 * The prompt encoder's no-prompt path: what SAM's mask decoder receives when given no points, no
 * boxes and no mask (the semantic-segmentation setting; the prompt encoder stays frozen).
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import type { ModelWeights } from "../encoder/weights.ts";

/**
 * The random-Fourier positional encoding of the embedding grid, `[1, h, w, C]` channel-last.
 * Pixel centres `((i + 0.5) / h, (j + 0.5) / w)` mapped to [-1, 1], times the stored Gaussian
 * matrix `[2, C/2]` (a loaded buffer, never regenerated), times 2π, then `[sin, cos]`.
 */
export function densePositionalEncoding(
  weights: ModelWeights,
  height: number,
  width: number,
): Tensor4D {
  return tf.tidy(() => {
    const gaussian = weights.get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    const coords = new Float32Array(height * width * 2);
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        const at = (i * width + j) * 2;
        // Rounded to float32 at each step, as PyTorch computes them.
        coords[at] = Math.fround(2 * Math.fround(Math.fround(j + 0.5) / width)) - 1;
        coords[at + 1] = Math.fround(2 * Math.fround(Math.fround(i + 0.5) / height)) - 1;
      }
    }
    const projected = tf.mul(
      tf.matMul(tf.tensor2d(coords, [height * width, 2]), gaussian),
      2 * Math.PI,
    );
    const encoding = tf.concat([tf.sin(projected), tf.cos(projected)], 1); // [h*w, C]
    return encoding.reshape([1, height, width, -1]) as Tensor4D;
  });
}

/**
 * The dense prompt embedding with no mask prompt: `no_mask_embed` broadcast to `[B, h, w, C]`.
 */
export function noMaskEmbedding(
  weights: ModelWeights,
  batch: number,
  height: number,
  width: number,
): Tensor4D {
  return tf.tidy(() => {
    const embed = weights.get("prompt_encoder.no_mask_embed.weight"); // [1, C]
    const channels = embed.shape[1]!;
    return tf.broadcastTo(embed.reshape([1, 1, 1, channels]), [
      batch,
      height,
      width,
      channels,
    ]) as Tensor4D;
  });
}
