/**
 * SAM's image encoder as a chain of stages: patch and position embedding, one stage per ViT
 * block, the neck. `encodeImage` runs exactly this chain, and training recomputes it one stage
 * at a time (lib/train/staged_gradients.ts), so both see the same operations in the same order.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf } from "../backend/tf.ts";
import { conv3x3, patchConv, pointwiseConv } from "../nn/convolution.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { encoderBlock } from "./block.ts";
import type { EncoderExtensions } from "./block_hooks.ts";
import type { ModelWeights } from "./weights.ts";

const NECK_EPS = 1e-6;

/**
 * One step of the encoder: its output is the next stage's input. Every stage is tidy-scoped, so
 * it returns one new tensor and leaves its input to the caller.
 */
export type EncoderStage = (x: Tensor) => Tensor;

/**
 * The encoder's stages, in order: `depth + 2` functions. Stage 0 maps preprocessed images
 * `[B, S, S, 3]` to tokens `[B, S/16, S/16, D]`; stage `1 + i` is block `i` (with its
 * `extensions`, asked for with the block's input tokens); the last maps tokens to image
 * embeddings `[B, S/16, S/16, outChans]` (the neck).
 *
 * @example
 * ```ts ignore
 * let x: Tensor = images;
 * for (const stage of encoderStages(weights)) x = stage(x); // (disposing each input)
 * ```
 */
export function encoderStages(
  weights: ModelWeights,
  extensions?: EncoderExtensions,
): EncoderStage[] {
  const arch = weights.architecture.encoder;
  const embed: EncoderStage = (images) =>
    tf.tidy(() => {
      if (images.shape[1] !== arch.imageSize || images.shape[2] !== arch.imageSize) {
        throw new RangeError(
          `encodeImage() needs [B, ${arch.imageSize}, ${arch.imageSize}, 3] input, got [${images.shape}]`,
        );
      }
      const tokens = patchConv(
        images as Tensor4D,
        weights.get("image_encoder.patch_embed.proj.weight"),
        weights.get("image_encoder.patch_embed.proj.bias"),
      );
      return tf.add(tokens, weights.get("image_encoder.pos_embed")) as Tensor4D;
    });
  // The extension's own tensors (gate values, reparameterised prefixes) go with the block's scope.
  const blocks = Array.from(
    { length: arch.depth },
    (_, block): EncoderStage => (input) =>
      tf.tidy(() => {
        const tokens = input as Tensor4D;
        return encoderBlock(tokens, weights, block, extensions?.(block, tokens));
      }),
  );
  const neck: EncoderStage = (tokens) =>
    tf.tidy(() => {
      let x = pointwiseConv(tokens as Tensor4D, weights.get("image_encoder.neck.0.weight"));
      x = layerNorm(
        x,
        weights.get("image_encoder.neck.1.weight"),
        weights.get("image_encoder.neck.1.bias"),
        NECK_EPS,
      ) as Tensor4D;
      x = conv3x3(x, weights.get("image_encoder.neck.2.weight"));
      return layerNorm(
        x,
        weights.get("image_encoder.neck.3.weight"),
        weights.get("image_encoder.neck.3.bias"),
        NECK_EPS,
      ) as Tensor4D;
    });
  return [embed, ...blocks, neck];
}
