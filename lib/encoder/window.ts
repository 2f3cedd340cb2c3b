/**
 * Windowed attention's partition of the token grid into non-overlapping square windows.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import { leanPad, leanReshape, leanSlice } from "../nn/lean_ops.ts";

/**
 * Pads `[B, H, W, C]` with zeros at the bottom and right to multiples of `windowSize`, then cuts
 * it into windows: `[B * windowsPerImage, windowSize, windowSize, C]`, batch-major.
 */
export function partitionWindows(x: Tensor4D, windowSize: number): Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width, channels] = x.shape;
    const padH = (windowSize - (height % windowSize)) % windowSize;
    const padW = (windowSize - (width % windowSize)) % windowSize;
    // Lean pad and slice: tfjs's keep their inputs for the backward pass, which needs only shapes.
    const padded = padH || padW ? leanPad(x, [[0, 0], [0, padH], [0, padW], [0, 0]]) : x;
    const rows = (height + padH) / windowSize;
    const cols = (width + padW) / windowSize;
    return leanReshape(
      leanReshape(padded, [batch, rows, windowSize, cols, windowSize, channels])
        .transpose([0, 1, 3, 2, 4, 5]), // [B, rows, cols, ws, ws, C]
      [batch * rows * cols, windowSize, windowSize, channels],
    ) as Tensor4D;
  });
}

/** Inverse of {@link partitionWindows}: back to `[B, height, width, C]`, padding removed. */
export function unpartitionWindows(
  windows: Tensor4D,
  windowSize: number,
  height: number,
  width: number,
): Tensor4D {
  return tf.tidy(() => {
    const rows = Math.ceil(height / windowSize);
    const cols = Math.ceil(width / windowSize);
    const channels = windows.shape[3];
    const batch = windows.shape[0] / (rows * cols);
    const grid = leanReshape(
      leanReshape(windows, [batch, rows, cols, windowSize, windowSize, channels])
        .transpose([0, 1, 3, 2, 4, 5]), // [B, rows, ws, cols, ws, C]
      [batch, rows * windowSize, cols * windowSize, channels],
    ) as Tensor4D;
    if (rows * windowSize === height && cols * windowSize === width) return grid;
    return leanSlice(grid, [0, 0, 0, 0], [batch, height, width, channels]) as Tensor4D;
  });
}
