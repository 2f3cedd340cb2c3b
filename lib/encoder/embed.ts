/**
 * Image embeddings for an image file: SAM's preprocessing followed by the image encoder.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import { decodeRgb } from "../image/decode.ts";
import { encodeImage } from "./image_encoder.ts";
import { preprocessImage } from "./preprocess.ts";
import type { ModelWeights } from "./weights.ts";

/** An image's embedding in the official layout. */
export interface ImageEmbedding {
  /** `[1, outChans, S/16, S/16]`, row-major (channel-first, as SAM's `image_embeddings`). */
  values: Float32Array;
  shape: [number, number, number, number];
  /** `[height, width]` after resizing to the model's input, before padding. */
  inputSize: [number, number];
  /** `[height, width]` of the image file. */
  originalSize: [number, number];
}

/**
 * Reads `imagePath`, preprocesses it as SAM does and runs the image encoder.
 *
 * @example
 * ```ts ignore
 * const embedding = await embedImageFile(weights, "photo.jpg");
 * embedding.shape; // [1, 256, 64, 64]
 * ```
 */
export async function embedImageFile(
  weights: ModelWeights,
  imagePath: string,
): Promise<ImageEmbedding> {
  const image = await decodeRgb(imagePath);
  const prepared = await preprocessImage(image, weights.architecture.encoder.imageSize);
  const channelFirst = tf.tidy(() =>
    encodeImage(weights, prepared.pixels).transpose([0, 3, 1, 2]) as Tensor4D
  );
  prepared.pixels.dispose();
  const values = await channelFirst.data() as Float32Array;
  const shape = channelFirst.shape;
  channelFirst.dispose();
  return {
    values,
    shape,
    inputSize: prepared.inputSize,
    originalSize: prepared.originalSize,
  };
}
