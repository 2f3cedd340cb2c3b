/**
 * SAM's image encoder: patch embedding, position embedding, ViT blocks, neck.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import { conv3x3, patchConv, pointwiseConv } from "../nn/convolution.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { encoderBlock } from "./block.ts";
import type { EncoderExtensions } from "./block_hooks.ts";
import type { ModelWeights } from "./weights.ts";

const NECK_EPS = 1e-6;

/**
 * Encodes preprocessed images `[B, S, S, 3]` (normalised, padded; channel-last) into image
 * embeddings `[B, S/16, S/16, outChans]` (channel-last; the official layout is its transpose
 * `[B, outChans, S/16, S/16]`).
 *
 * @param extensions optional PEFT terms per block (see {@link EncoderExtensions}).
 *
 * @example
 * ```ts ignore
 * const embeddings = encodeImage(weights, preprocessed); // [1, 64, 64, 256] for vit_b
 * ```
 */
export function encodeImage(
  weights: ModelWeights,
  images: Tensor4D,
  extensions?: EncoderExtensions,
): Tensor4D {
  return tf.tidy(() => {
    const arch = weights.architecture.encoder;
    if (images.shape[1] !== arch.imageSize || images.shape[2] !== arch.imageSize) {
      throw new RangeError(
        `encodeImage() needs [B, ${arch.imageSize}, ${arch.imageSize}, 3] input, got [${images.shape}]`,
      );
    }
    let x = patchConv(
      images,
      weights.get("image_encoder.patch_embed.proj.weight"),
      weights.get("image_encoder.patch_embed.proj.bias"),
    );
    x = tf.add(x, weights.get("image_encoder.pos_embed")) as Tensor4D;
    for (let block = 0; block < arch.depth; block++) {
      const input = x;
      x = encoderBlock(input, weights, block, extensions?.(block, input));
      input.dispose();
    }
    let neck = pointwiseConv(x, weights.get("image_encoder.neck.0.weight"));
    neck = layerNorm(
      neck,
      weights.get("image_encoder.neck.1.weight"),
      weights.get("image_encoder.neck.1.bias"),
      NECK_EPS,
    ) as Tensor4D;
    neck = conv3x3(neck, weights.get("image_encoder.neck.2.weight"));
    return layerNorm(
      neck,
      weights.get("image_encoder.neck.3.weight"),
      weights.get("image_encoder.neck.3.bias"),
      NECK_EPS,
    ) as Tensor4D;
  });
}
