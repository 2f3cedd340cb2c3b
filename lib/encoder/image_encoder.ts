/**
 * SAM's image encoder: patch embedding, position embedding, ViT blocks, neck.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf } from "../backend/tf.ts";
import type { EncoderExtensions } from "./block_hooks.ts";
import { encoderStages } from "./stages.ts";
import type { ModelWeights } from "./weights.ts";

/**
 * Encodes preprocessed images `[B, S, S, 3]` (normalised, padded; channel-last) into image
 * embeddings `[B, S/16, S/16, outChans]` (channel-last; the official layout is its transpose
 * `[B, outChans, S/16, S/16]`).
 *
 * Runs the stages of {@link encoderStages} in order (training recomputes the same stages one at
 * a time), freeing each intermediate as soon as the next stage has it.
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
    let x: Tensor = images;
    for (const stage of encoderStages(weights, extensions)) {
      const input = x;
      x = stage(input);
      if (input !== images) input.dispose();
    }
    return x as Tensor4D;
  });
}
