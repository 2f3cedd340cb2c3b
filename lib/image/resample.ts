/**
 * Pure-TypeScript resampling of interleaved rasters, for what sharp does not cover: class maps
 * (nearest neighbour, so that labels never receive interpolated values) and float score maps
 * (bilinear, exact in float32).
 *
 * Both align pixel centres: a destination pixel centre maps to
 * `(x + 0.5) * inWidth / outWidth - 0.5` in the source (PyTorch's `align_corners=False`).
 *
 * @module
 */

/** A raster's geometry: data is `[height, width, channels]`, row-major, interleaved. */
export interface RasterShape {
  width: number;
  height: number;
  channels: number;
}

/**
 * Bilinear resize. Uint8 input is rounded to the nearest integer; Float32 input stays exact.
 *
 * @example
 * ```ts
 * import { resizeBilinear } from "./resample.ts";
 * const shape = { width: 2, height: 1, channels: 1 };
 * resizeBilinear(new Float32Array([0, 100]), shape, { width: 4, height: 1 }); // [0, 25, 75, 100]
 * ```
 */
export function resizeBilinear<T extends Uint8Array | Float32Array>(
  data: T,
  shape: RasterShape,
  size: { width: number; height: number },
): T {
  const { width: inW, height: inH, channels } = shape;
  const { width: outW, height: outH } = size;
  const round = data instanceof Uint8Array;
  const out =
    (round
      ? new Uint8Array(outW * outH * channels)
      : new Float32Array(outW * outH * channels)) as T;
  const xs = sampleAxis(inW, outW);
  const ys = sampleAxis(inH, outH);
  for (let y = 0; y < outH; y++) {
    const row0 = ys.low[y]! * inW;
    const row1 = ys.high[y]! * inW;
    const wy = ys.weight[y]!;
    for (let x = 0; x < outW; x++) {
      const x0 = xs.low[x]!;
      const x1 = xs.high[x]!;
      const wx = xs.weight[x]!;
      for (let c = 0; c < channels; c++) {
        const a = data[(row0 + x0) * channels + c]!;
        const b = data[(row0 + x1) * channels + c]!;
        const d = data[(row1 + x0) * channels + c]!;
        const e = data[(row1 + x1) * channels + c]!;
        const top = a + (b - a) * wx;
        const value = top + (d + (e - d) * wx - top) * wy;
        out[(y * outW + x) * channels + c] = round ? Math.round(value) : value;
      }
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize: every output value is a copy of an input value.
 *
 * @example
 * ```ts
 * import { resizeNearest } from "./resample.ts";
 * const shape = { width: 2, height: 1, channels: 1 };
 * resizeNearest(new Uint8Array([1, 2]), shape, { width: 4, height: 1 }); // [1, 1, 2, 2]
 * ```
 */
export function resizeNearest<T extends Uint8Array | Float32Array>(
  data: T,
  shape: RasterShape,
  size: { width: number; height: number },
): T {
  const { width: inW, height: inH, channels } = shape;
  const { width: outW, height: outH } = size;
  const out =
    (data instanceof Uint8Array
      ? new Uint8Array(outW * outH * channels)
      : new Float32Array(outW * outH * channels)) as T;
  const sourceX = new Int32Array(outW);
  for (let x = 0; x < outW; x++) {
    sourceX[x] = Math.min(Math.floor(((x + 0.5) * inW) / outW), inW - 1);
  }
  for (let y = 0; y < outH; y++) {
    const sourceY = Math.min(Math.floor(((y + 0.5) * inH) / outH), inH - 1);
    for (let x = 0; x < outW; x++) {
      const from = (sourceY * inW + sourceX[x]!) * channels;
      const to = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c]!;
    }
  }
  return out;
}

/** Per output coordinate: the two source neighbours and the weight of the second. */
function sampleAxis(inSize: number, outSize: number) {
  const low = new Int32Array(outSize);
  const high = new Int32Array(outSize);
  const weight = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const source = Math.max((i + 0.5) * scale - 0.5, 0);
    const first = Math.min(Math.floor(source), inSize - 1);
    low[i] = first;
    high[i] = Math.min(first + 1, inSize - 1);
    weight[i] = source - first;
  }
  return { low, high, weight };
}
