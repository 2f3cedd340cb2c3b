/**
 * Differentiable bilinear upsampling of class logits, as SAM's postprocessing does it
 * (`F.interpolate(..., mode="bilinear", align_corners=False)`).
 *
 * `tf.image.resizeBilinear(x, size, false, true)` computes the same forward values, but the
 * gradient kernels of tfjs 4.22 (cpu and wasm) ignore `halfPixelCenters`, so its gradient is that
 * of a different resize. Bilinear resizing is separable and linear, so here it is written as two
 * matrix products with fixed interpolation matrices, whose gradients are exact on every backend.
 *
 * @module
 */
import { type Tensor2D, type Tensor4D, tf } from "../backend/tf.ts";

/**
 * The `[outSize, inSize]` matrix of half-pixel bilinear interpolation along one axis: row i holds
 * the weights of the two source samples around `(i + 0.5) * in / out - 0.5` (clamped at the
 * edges exactly as tfjs and PyTorch clamp).
 *
 * @example
 * ```ts
 * import { interpolationMatrix } from "./upsample.ts";
 * const m = interpolationMatrix(2, 4); // [4, 2]: rows [1,0], [0.75,0.25], [0.25,0.75], [0,1]
 * m.dispose();
 * ```
 */
export function interpolationMatrix(inSize: number, outSize: number): Tensor2D {
  const values = new Float32Array(outSize * inSize);
  const ratio = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const source = Math.max(0, (i + 0.5) * ratio - 0.5);
    const low = Math.floor(source);
    const high = Math.min(inSize - 1, Math.ceil(source));
    const fraction = source - low;
    values[i * inSize + low]! += 1 - fraction;
    values[i * inSize + high]! += fraction;
  }
  return tf.tensor2d(values, [outSize, inSize]);
}

/**
 * Upsamples channel-first logits `[B, C, h, w]` bilinearly (half-pixel centres) to
 * `[B, C, height, width]`; differentiable with exact gradients.
 *
 * @example
 * ```ts ignore
 * const full = upsampleLogits(lowRes, 1024, 1024); // [B, C, 256, 256] -> [B, C, 1024, 1024]
 * ```
 */
export function upsampleLogits(logits: Tensor4D, height: number, width: number): Tensor4D {
  return tf.tidy(() => {
    const [batch, classes, h, w] = logits.shape;
    if (h === height && w === width) return logits.clone();
    const rows = interpolationMatrix(h, height); // [H, h]
    const columns = interpolationMatrix(w, width); // [W, w]
    // Along x: [B*C*h, w] x [w, W] -> [B*C*h, W]
    const alongX = tf.matMul(logits.reshape([batch * classes * h, w]), columns, false, true);
    // Along y: [B*C, h, W] batched with [H, h] -> [B*C, H, W]
    const grid = alongX.reshape([batch * classes, h, width]);
    const alongY = tf.matMul(
      tf.broadcastTo(rows, [batch * classes, height, h]),
      grid,
    );
    return alongY.reshape([batch, classes, height, width]) as Tensor4D;
  });
}
