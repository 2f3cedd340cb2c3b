/**
 * The exported encoder's input from a tile as `predict` cuts it: `[1, 3, S, S]` RGB on the
 * 0-255 scale, the padding filled with SAM's pixel mean (which the graph's normalisation turns
 * into the zeros SAM pads with).
 *
 * @module
 */
import type { Tile } from "../data/tiler.ts";
import { PIXEL_MEAN } from "../encoder/preprocess.ts";

/**
 * `tile`'s pixels, channel-first, mean-padded.
 *
 * @example
 * ```ts ignore
 * const image = encoderInput(tile); // Float32Array of 3 * S * S values
 * ```
 */
export function encoderInput(tile: Tile): Float32Array {
  const size = tile.size;
  const plane = size * size;
  const values = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) values.fill(PIXEL_MEAN[c]!, c * plane, (c + 1) * plane);
  for (let y = 0; y < tile.validHeight; y++) {
    for (let x = 0; x < tile.validWidth; x++) {
      const from = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) values[c * plane + y * size + x] = tile.image[from + c]!;
    }
  }
  return values;
}
