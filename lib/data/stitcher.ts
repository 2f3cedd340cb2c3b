/**
 * Putting per-tile predictions back together at the source image's resolution.
 *
 * @module
 */
import { resizeBilinear, resizeNearest } from "../image/resample.ts";
import type { TilePlacement } from "./tiler.ts";

/**
 * Assembles a full-resolution map from tile outputs. Each tile contributes its `own` rectangle,
 * so every source pixel is written exactly once. A resized image's single tile is cropped to its
 * content region and resized back: nearest neighbour for a `Uint8Array` (class maps),
 * bilinear for a `Float32Array` (scores or logits, to take the argmax afterwards).
 *
 * @example
 * ```ts
 * import { cutTiles } from "./tiler.ts";
 * import { TileStitcher } from "./stitcher.ts";
 * const image = { data: new Uint8Array(300 * 200 * 3), width: 300, height: 200, channels: 3 };
 * const stitcher = new TileStitcher(new Uint8Array(300 * 200), { width: 300, height: 200 });
 * for await (const tile of cutTiles(image, null, { size: 128 })) {
 *   const prediction = new Uint8Array(128 * 128); // the model's class map for this tile
 *   stitcher.add(tile, prediction);
 * }
 * stitcher.complete; // true
 * ```
 */
export class TileStitcher<T extends Uint8Array | Float32Array> {
  /** The assembled map, `[height, width, channels]`. */
  readonly output: T;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  #written = 0;

  constructor(output: T, shape: { width: number; height: number; channels?: number }) {
    this.output = output;
    this.width = shape.width;
    this.height = shape.height;
    this.channels = shape.channels ?? 1;
    if (output.length !== this.width * this.height * this.channels) {
      throw new RangeError(
        `Stitch output has ${output.length} values, expected ` +
          `${this.width}x${this.height}x${this.channels}`,
      );
    }
  }

  /** Whether every pixel has been written (once per pixel when each tile is added once). */
  get complete(): boolean {
    return this.#written === this.width * this.height;
  }

  /** Writes the part of `tileData` (`[size, size, channels]`) that `tile` owns. */
  add(tile: TilePlacement, tileData: Uint8Array | Float32Array): void {
    if ((tileData instanceof Uint8Array) !== (this.output instanceof Uint8Array)) {
      throw new TypeError("Tile data and stitch output must both be Uint8Array or Float32Array");
    }
    const { size, own, channels } = { ...tile, channels: this.channels };
    if (tile.sourceWidth !== this.width || tile.sourceHeight !== this.height) {
      throw new RangeError(
        `Tile of a ${tile.sourceWidth}x${tile.sourceHeight} image added to a ` +
          `${this.width}x${this.height} stitch`,
      );
    }
    if (tileData.length !== size * size * channels) {
      throw new RangeError(
        `Tile data has ${tileData.length} values, expected ${size}x${size}x${channels}`,
      );
    }
    if (tile.scale !== 1) {
      this.#addResized(tile, tileData);
      return;
    }
    for (let row = 0; row < own.height; row++) {
      const sourceRow = own.y + row;
      const from = ((sourceRow - tile.y) * size + (own.x - tile.x)) * channels;
      const to = (sourceRow * this.width + own.x) * channels;
      this.output.set(tileData.subarray(from, from + own.width * channels), to);
    }
    this.#written += own.width * own.height;
  }

  #addResized(tile: TilePlacement, tileData: Uint8Array | Float32Array): void {
    const { size, validWidth, validHeight } = tile;
    const channels = this.channels;
    const content =
      (tileData instanceof Uint8Array
        ? new Uint8Array(validWidth * validHeight * channels)
        : new Float32Array(validWidth * validHeight * channels)) as T;
    for (let row = 0; row < validHeight; row++) {
      content.set(
        tileData.subarray(row * size * channels, (row * size + validWidth) * channels),
        row * validWidth * channels,
      );
    }
    const shape = { width: validWidth, height: validHeight, channels };
    const target = { width: this.width, height: this.height };
    const resized = content instanceof Uint8Array
      ? resizeNearest(content, shape, target)
      : resizeBilinear(content, shape, target);
    this.output.set(resized);
    this.#written += this.width * this.height;
  }
}
