/**
 * SAM's input preprocessing: resize the longest side to S, normalise, pad to S x S.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import type { RasterImage } from "../image/decode.ts";
import { longestSideSize, resizeImage } from "../image/resize.ts";

/** SAM's pixel mean and standard deviation, RGB, on the 0-255 scale. */
export const PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
export const PIXEL_STD = [58.395, 57.12, 57.375] as const;

/** A preprocessed image and the sizes needed to map predictions back. */
export interface PreprocessedImage {
  /** `[1, S, S, 3]` normalised, zero-padded at bottom/right (channel-last). */
  pixels: Tensor4D;
  /** `[height, width]` after resizing, before padding. */
  inputSize: [number, number];
  /** `[height, width]` of the original image. */
  originalSize: [number, number];
}

/**
 * Normalises an RGB image that already fits in `imageSize` and pads it with zeros (in normalised
 * space) at the bottom and right to `[1, S, S, 3]`.
 */
export function normalizeAndPad(image: RasterImage, imageSize: number): Tensor4D {
  if (image.channels !== 3) {
    throw new RangeError(`normalizeAndPad() needs an RGB image, got ${image.channels} channels`);
  }
  if (image.height > imageSize || image.width > imageSize) {
    throw new RangeError(
      `normalizeAndPad() needs an image of at most ${imageSize}x${imageSize}, got ${image.width}x${image.height}`,
    );
  }
  const values = new Float32Array(imageSize * imageSize * 3);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const from = (y * image.width + x) * 3;
      const to = (y * imageSize + x) * 3;
      for (let c = 0; c < 3; c++) {
        values[to + c] = (image.data[from + c]! - PIXEL_MEAN[c]!) / PIXEL_STD[c]!;
      }
    }
  }
  return tf.tensor4d(values, [1, imageSize, imageSize, 3]);
}

/**
 * SAM's preprocessing of one decoded RGB image for an encoder of input side `imageSize`.
 *
 * @example
 * ```ts ignore
 * const { pixels, inputSize } = await preprocessImage(await decodeRgb("a.jpg"), 1024);
 * ```
 */
export async function preprocessImage(
  image: RasterImage,
  imageSize: number,
): Promise<PreprocessedImage> {
  const size = longestSideSize(image.height, image.width, imageSize);
  const resized = await resizeImage(image, size.height, size.width);
  return {
    pixels: normalizeAndPad(resized, imageSize),
    inputSize: [size.height, size.width],
    originalSize: [image.height, image.width],
  };
}
