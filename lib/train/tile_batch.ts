/**
 * Turning reader tiles into model inputs exactly as SAM's preprocessing does.
 *
 * @module
 */
import { type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import type { Tile } from "../data/tiler.ts";
import { PIXEL_MEAN, PIXEL_STD } from "../encoder/preprocess.ts";

/** A batch of tiles on the backend. */
export interface TileBatch {
  /** `[B, S, S, 3]` normalised; 0 outside each tile's valid region, as SAM pads. */
  images: Tensor4D;
  /** `[B, S, S]` int32 class indices, 255 = ignore; `null` when the tiles carry no label. */
  labels: Tensor3D | null;
}

/**
 * Normalises tiles with SAM's pixel mean and std and stacks them. A tile's padding holds uint8 0,
 * which would normalise to `-mean / std`; SAM pads with 0 *after* normalising, so every pixel
 * outside `validWidth x validHeight` is set to 0 here.
 *
 * @example
 * ```ts ignore
 * for await (const tiles of reader.batches(4)) {
 *   const { images, labels } = tilesToBatch(tiles);
 * }
 * ```
 */
export function tilesToBatch(tiles: readonly Tile[]): TileBatch {
  if (tiles.length === 0) throw new RangeError("Cannot batch zero tiles");
  const size = tiles[0]!.size;
  const pixels = size * size;
  const images = new Float32Array(tiles.length * pixels * 3);
  const withLabels = tiles.every((tile) => tile.label !== null);
  const labels = withLabels ? new Int32Array(tiles.length * pixels) : null;
  tiles.forEach((tile, b) => {
    if (tile.size !== size) {
      throw new RangeError(`Tiles of one batch differ in size: ${tile.size} and ${size}`);
    }
    for (let y = 0; y < tile.validHeight; y++) {
      for (let x = 0; x < tile.validWidth; x++) {
        const from = (y * size + x) * 3;
        const to = b * pixels * 3 + from;
        for (let c = 0; c < 3; c++) {
          images[to + c] = (tile.image[from + c]! - PIXEL_MEAN[c]!) / PIXEL_STD[c]!;
        }
      }
    }
    if (labels) labels.set(tile.label!, b * pixels);
  });
  return {
    images: tf.tensor4d(images, [tiles.length, size, size, 3]),
    labels: labels ? tf.tensor3d(labels, [tiles.length, size, size], "int32") : null,
  };
}
