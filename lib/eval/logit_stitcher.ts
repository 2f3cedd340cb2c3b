/**
 * Putting per-tile class logits back together at the source resolution, averaging where tiles
 * overlap (unlike lib/data's `TileStitcher`, which gives each pixel to one tile).
 *
 * @module
 */
import type { TilePlacement } from "../data/tiler.ts";
import { resizeBilinear } from "../image/resample.ts";

/**
 * Sums `[S, S, C]` tile logits into a `[height, width, C]` map and counts how many tiles covered
 * each pixel. A cut tile contributes its whole valid region (so overlaps average); a resized
 * image's single tile is cropped to its content and resized back bilinearly (half-pixel centres,
 * as SAM's postprocessing does).
 *
 * Holds `height * width * C` float32 values: about 0.5 GB for a 4000x3000 image with 10 classes.
 *
 * @example
 * ```ts
 * import { LogitStitcher } from "./logit_stitcher.ts";
 * import { planTiles } from "../data/tiler.ts";
 * const stitcher = new LogitStitcher(200, 150, 3);
 * for (const tile of planTiles(200, 150, { size: 128, overlap: 16 })) {
 *   stitcher.add(tile, new Float32Array(128 * 128 * 3)); // the tile's logits
 * }
 * const classes = stitcher.argmax(); // Uint8Array, 200 * 150
 * ```
 */
export class LogitStitcher {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly #sums: Float32Array;
  readonly #counts: Uint16Array;

  constructor(width: number, height: number, channels: number) {
    if (!Number.isInteger(channels) || channels < 1 || channels > 255) {
      throw new RangeError(`Number of classes must be an integer in [1, 255], got ${channels}`);
    }
    this.width = width;
    this.height = height;
    this.channels = channels;
    this.#sums = new Float32Array(width * height * channels);
    this.#counts = new Uint16Array(width * height);
  }

  /** Adds one tile's logits, `[size, size, channels]` channel-last. */
  add(tile: TilePlacement, logits: Float32Array): void {
    const { size, validWidth, validHeight } = tile;
    const channels = this.channels;
    if (tile.sourceWidth !== this.width || tile.sourceHeight !== this.height) {
      throw new RangeError(
        `Tile of a ${tile.sourceWidth}x${tile.sourceHeight} image added to a ` +
          `${this.width}x${this.height} stitch`,
      );
    }
    if (logits.length !== size * size * channels) {
      throw new RangeError(
        `Tile logits have ${logits.length} values, expected ${size}x${size}x${channels}`,
      );
    }
    if (tile.scale !== 1) {
      const content = new Float32Array(validWidth * validHeight * channels);
      for (let row = 0; row < validHeight; row++) {
        content.set(
          logits.subarray(row * size * channels, (row * size + validWidth) * channels),
          row * validWidth * channels,
        );
      }
      const resized = resizeBilinear(
        content,
        { width: validWidth, height: validHeight, channels },
        { width: this.width, height: this.height },
      );
      for (let i = 0; i < resized.length; i++) this.#sums[i]! += resized[i]!;
      for (let i = 0; i < this.#counts.length; i++) this.#counts[i]!++;
      return;
    }
    for (let row = 0; row < validHeight; row++) {
      const sourceRow = tile.y + row;
      for (let column = 0; column < validWidth; column++) {
        const pixel = sourceRow * this.width + tile.x + column;
        const from = (row * size + column) * channels;
        const to = pixel * channels;
        for (let c = 0; c < channels; c++) this.#sums[to + c]! += logits[from + c]!;
        this.#counts[pixel]!++;
      }
    }
  }

  /** Whether every pixel was covered by at least one tile. */
  get complete(): boolean {
    return this.#counts.every((count) => count > 0);
  }

  /** The averaged logits, `[height, width, channels]`. */
  logits(): Float32Array {
    const out = new Float32Array(this.#sums.length);
    for (let pixel = 0; pixel < this.#counts.length; pixel++) {
      const count = this.#counts[pixel]! || 1;
      for (let c = 0; c < this.channels; c++) {
        const i = pixel * this.channels + c;
        out[i] = this.#sums[i]! / count;
      }
    }
    return out;
  }

  /**
   * The class of each pixel, `[height, width]`: the argmax of the averaged logits (the first
   * class on ties). Dividing by the positive count does not move the argmax, so sums are used.
   */
  argmax(): Uint8Array {
    const classes = new Uint8Array(this.#counts.length);
    const channels = this.channels;
    for (let pixel = 0; pixel < classes.length; pixel++) {
      const base = pixel * channels;
      let best = 0;
      let bestValue = this.#sums[base]!;
      for (let c = 1; c < channels; c++) {
        const value = this.#sums[base + c]!;
        if (value > bestValue) {
          best = c;
          bestValue = value;
        }
      }
      classes[pixel] = best;
    }
    return classes;
  }
}
