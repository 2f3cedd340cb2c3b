/**
 * Mapping low-resolution mask logits back to the original image, as SAM does.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";

/**
 * Upsamples `[B, K, S/4, S/4]` logits bilinearly (half-pixel centres, PyTorch's
 * `align_corners=False`) to `S x S`, cuts the padding off (`inputSize`), then resizes to
 * `originalSize`. Returns `[B, K, H, W]` logits.
 */
export function postprocessMasks(
  lowResMasks: Tensor4D,
  imageSize: number,
  inputSize: [number, number],
  originalSize: [number, number],
): Tensor4D {
  return tf.tidy(() => {
    const [batch, masks] = lowResMasks.shape;
    const channelLast = lowResMasks.transpose([0, 2, 3, 1]) as Tensor4D; // [B, h, w, K]
    const full = tf.image.resizeBilinear(channelLast, [imageSize, imageSize], false, true);
    const cropped = tf.slice(full, [0, 0, 0, 0], [batch, inputSize[0], inputSize[1], masks]);
    const original = inputSize[0] === originalSize[0] && inputSize[1] === originalSize[1]
      ? cropped
      : tf.image.resizeBilinear(cropped as Tensor4D, originalSize, false, true);
    return original.transpose([0, 3, 1, 2]) as Tensor4D;
  });
}
