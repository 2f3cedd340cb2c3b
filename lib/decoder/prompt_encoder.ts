/**
 * The prompt encoder: its no-prompt path, what SAM's mask decoder receives when given no points,
 * no boxes and no mask (the semantic-segmentation setting; the prompt encoder stays frozen), and
 * its point and mask prompts (the promptable decoder that `mopeft export` writes).
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { patchConv, pointwiseConv } from "../nn/convolution.ts";
import { gelu } from "../nn/gelu.ts";
import { layerNorm } from "../nn/layer_norm.ts";

/** LayerNorm2d's eps in the mask-downscaling path. */
const MASK_EPS = 1e-6;

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

/**
 * The random-Fourier encoding of points already scaled to [0, 1] (`[..., 2]`, x then y):
 * `[sin, cos]` of `2π (2p - 1) G`, `[..., C]` (SAM's `PositionEmbeddingRandom._pe_encoding`).
 */
export function pointPositionalEncoding(weights: ModelWeights, unitCoords: Tensor): Tensor {
  return tf.tidy(() => {
    const gaussian = weights.get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    const shape = unitCoords.shape;
    const flat = tf.sub(tf.mul(unitCoords.reshape([-1, 2]), 2), 1);
    const projected = tf.mul(tf.matMul(flat, gaussian), 2 * Math.PI);
    const encoding = tf.concat([tf.sin(projected), tf.cos(projected)], 1);
    return encoding.reshape([...shape.slice(0, -1), -1]);
  });
}

/**
 * The sparse prompt embeddings of points, `[B, N, C]`, as SAM's official ONNX export computes
 * them: coordinates `[B, N, 2]` (x, y) in the model's S-px input frame, shifted to pixel centres
 * (+0.5) and divided by S; labels `[B, N]`: 1 foreground, 0 background, 2 and 3 box corners,
 * -1 a padding point (the "not a point" embedding instead of a position).
 *
 * @example
 * ```ts ignore
 * const sparse = pointEmbeddings(weights, tf.tensor3d([[[500, 375]]]), tf.tensor2d([[1]]));
 * ```
 */
export function pointEmbeddings(weights: ModelWeights, coords: Tensor, labels: Tensor): Tensor3D {
  return tf.tidy(() => {
    const imageSize = weights.architecture.encoder.imageSize;
    const position = pointPositionalEncoding(weights, tf.div(tf.add(coords, 0.5), imageSize));
    const label = labels.expandDims(-1); // [B, N, 1]
    const is = (value: number) => tf.cast(tf.equal(label, value), "float32");
    let embedding = tf.add(
      tf.mul(position, tf.cast(tf.notEqual(label, -1), "float32")),
      tf.mul(weights.get("prompt_encoder.not_a_point_embed.weight"), is(-1)),
    );
    for (let i = 0; i < 4; i++) {
      embedding = tf.add(
        embedding,
        tf.mul(weights.get(`prompt_encoder.point_embeddings.${i}.weight`), is(i)),
      );
    }
    return embedding as Tensor3D;
  });
}

/**
 * The dense prompt embedding of a mask prompt `[B, 4h, 4w, 1]` (low-resolution logits,
 * channel-last): SAM's `mask_downscaling` (2x2 stride-2 conv, LayerNorm2d, GELU, again, 1x1
 * conv), `[B, h, w, C]`.
 */
export function maskPromptEmbedding(weights: ModelWeights, mask: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const p = "prompt_encoder.mask_downscaling";
    const stage = (x: Tensor4D, conv: number, norm: number) =>
      gelu(
        layerNorm(
          patchConv(x, weights.get(`${p}.${conv}.weight`), weights.get(`${p}.${conv}.bias`)),
          weights.get(`${p}.${norm}.weight`),
          weights.get(`${p}.${norm}.bias`),
          MASK_EPS,
        ),
      ) as Tensor4D;
    const hidden = stage(stage(mask, 0, 1), 3, 4);
    return tf.add(
      pointwiseConv(hidden, weights.get(`${p}.6.weight`)),
      weights.get(`${p}.6.bias`),
    ) as Tensor4D;
  });
}
