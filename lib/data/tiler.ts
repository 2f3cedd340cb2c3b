/**
 * Cutting an image (and its label) into the fixed square inputs SAM takes.
 *
 * - An image whose longest side is at most `size` is resized as SAM does (longest side to `size`,
 *   `scale = size / max(w, h)`, new side `floor(side * scale + 0.5)`, bilinear through the
 *   project's shared `resizeImage`, so tiles match `preprocessImage`) and padded at the bottom and
 *   right: one tile.
 * - A larger image is not resized; it is cut into `size`×`size` tiles, a stride of
 *   `size - overlap` apart, the last row and column padded. The default overlap is 0; an
 *   evaluation may pass e.g. `size / 8` so that every stitched pixel is predicted away from a
 *   tile border.
 *
 * Image padding is 0 (irrelevant: the model normalises and pads with zeros); label padding is 255
 * (ignore). Labels are only ever copied or nearest-neighbour resampled, never interpolated.
 *
 * @module
 */
import type { RasterImage } from "../image/decode.ts";
import { resizeImage } from "../image/resize.ts";
import { resizeNearest } from "../image/resample.ts";

/** A rectangle in source-image pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a tile comes from in its source image. */
export interface TilePlacement {
  /** Tile side in pixels (the model input size S). */
  size: number;
  /** Source-image column of the tile's left edge (0 for a resized image). */
  x: number;
  /** Source-image row of the tile's top edge (0 for a resized image). */
  y: number;
  /** Width of the tile's top-left region that holds image content; the rest is padding. */
  validWidth: number;
  /** Height of the content region. */
  validHeight: number;
  /**
   * Tile pixels per source pixel: 1 for a cut tile, `size / max(w, h)` for a resized image (its
   * content region then covers the whole source image).
   */
  scale: number;
  /**
   * The part of the source image this tile answers for when stitching: the tiles' `own`
   * rectangles cover the source image exactly once (overlaps are split down the middle).
   */
  own: Rect;
  /** Position of this tile among its image's tiles, row-major. */
  index: number;
  /** Number of tiles of the image. */
  count: number;
  /** Source image size. */
  sourceWidth: number;
  sourceHeight: number;
}

/** One model input: pixels, label, and where it came from. */
export interface Tile extends TilePlacement {
  /** `[size, size, 3]` uint8 RGB, not normalised; 0 in the padding. */
  image: Uint8Array;
  /** `[size, size]` class indices, 255 in the padding; `null` when no label was given. */
  label: Uint8Array | null;
}

/** Tiling parameters. */
export interface TileOptions {
  /** Model input side S, e.g. 1024 (SAM), or 256/128 for small test models. */
  size: number;
  /** Pixels shared by neighbouring tiles of a large image, `0 <= overlap < size`; default 0. */
  overlap?: number;
}

/**
 * Plans the tiles of a `width`×`height` image without touching pixels.
 *
 * @example
 * ```ts
 * import { planTiles } from "./tiler.ts";
 * planTiles(2500, 1300, { size: 1024 }).length; // 6: three columns, two rows
 * planTiles(640, 480, { size: 1024 })[0]!.scale; // 1.6
 * ```
 */
export function planTiles(width: number, height: number, options: TileOptions): TilePlacement[] {
  const { size } = options;
  const overlap = options.overlap ?? 0;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Tile size must be a positive integer, got ${size}`);
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) {
    throw new RangeError(`Tile overlap must be an integer in [0, ${size}), got ${overlap}`);
  }
  const source = { sourceWidth: width, sourceHeight: height };
  if (Math.max(width, height) <= size) {
    const scale = size / Math.max(width, height);
    return [{
      size,
      x: 0,
      y: 0,
      validWidth: Math.floor(width * scale + 0.5),
      validHeight: Math.floor(height * scale + 0.5),
      scale,
      own: { x: 0, y: 0, width, height },
      index: 0,
      count: 1,
      ...source,
    }];
  }
  const columns = axisTiles(width, size, overlap);
  const rows = axisTiles(height, size, overlap);
  const tiles: TilePlacement[] = [];
  for (const row of rows) {
    for (const column of columns) {
      tiles.push({
        size,
        x: column.start,
        y: row.start,
        validWidth: Math.min(size, width - column.start),
        validHeight: Math.min(size, height - row.start),
        scale: 1,
        own: {
          x: column.ownStart,
          y: row.ownStart,
          width: column.ownEnd - column.ownStart,
          height: row.ownEnd - row.ownStart,
        },
        index: tiles.length,
        count: rows.length * columns.length,
        ...source,
      });
    }
  }
  return tiles;
}

/**
 * Cuts an RGB image and its optional one-channel label into tiles, lazily (one tile's pixels at a
 * time, so a large image costs its decoded size plus one tile).
 *
 * @example
 * ```ts
 * import { cutTiles } from "./tiler.ts";
 * const image = { data: new Uint8Array(300 * 200 * 3), width: 300, height: 200, channels: 3 };
 * for (await (const tile of cutTiles(image, null, { size: 128, overlap: 16 })) {
 *   console.log(tile.x, tile.y, tile.validWidth, tile.validHeight);
 * }
 * ```
 */
export async function* cutTiles(
  image: RasterImage,
  label: RasterImage | null,
  options: TileOptions,
): AsyncGenerator<Tile> {
  if (image.channels !== 3) throw new TypeError(`Image has ${image.channels} channels, expected 3`);
  if (label && (label.width !== image.width || label.height !== image.height)) {
    throw new RangeError(
      `Label is ${label.width}x${label.height}, image is ${image.width}x${image.height}`,
    );
  }
  for (const placement of planTiles(image.width, image.height, options)) {
    if (placement.scale !== 1) {
      yield await resizedTile(image, label, placement);
    } else {
      yield {
        ...placement,
        image: cropPadded(image, placement, 0),
        label: label ? cropPadded(label, placement, 255) : null,
      };
    }
  }
}

async function resizedTile(
  image: RasterImage,
  label: RasterImage | null,
  placement: TilePlacement,
): Promise<Tile> {
  const { size, validWidth, validHeight } = placement;
  const target = { width: validWidth, height: validHeight };
  const resizedImage = (await resizeImage(image, validHeight, validWidth)).data;
  const tileImage = new Uint8Array(size * size * 3);
  for (let y = 0; y < validHeight; y++) {
    tileImage.set(
      resizedImage.subarray(y * validWidth * 3, (y + 1) * validWidth * 3),
      y * size * 3,
    );
  }
  let tileLabel: Uint8Array | null = null;
  if (label) {
    const resizedLabel = resizeNearest(label.data, label, target);
    tileLabel = new Uint8Array(size * size).fill(255);
    for (let y = 0; y < validHeight; y++) {
      tileLabel.set(resizedLabel.subarray(y * validWidth, (y + 1) * validWidth), y * size);
    }
  }
  return { ...placement, image: tileImage, label: tileLabel };
}

/** Copies the tile's window out of `raster`, filling the part outside the image with `fill`. */
function cropPadded(raster: RasterImage, placement: TilePlacement, fill: number): Uint8Array {
  const { size, x, y, validWidth, validHeight } = placement;
  const channels = raster.channels;
  const out = new Uint8Array(size * size * channels);
  if (fill !== 0) out.fill(fill);
  const rowLength = validWidth * channels;
  for (let row = 0; row < validHeight; row++) {
    const from = ((y + row) * raster.width + x) * channels;
    out.set(raster.data.subarray(from, from + rowLength), row * size * channels);
  }
  return out;
}

/** Tile starts along one axis, and the span each tile owns when stitching. */
function axisTiles(length: number, size: number, overlap: number) {
  const stride = size - overlap;
  const count = length <= size ? 1 : Math.ceil((length - size) / stride) + 1;
  const starts = Array.from({ length: count }, (_, i) => i * stride);
  return starts.map((start, i) => ({
    start,
    // Neighbours split their shared strip at its middle.
    ownStart: i === 0 ? 0 : start + Math.floor(overlap / 2),
    ownEnd: i === count - 1 ? length : starts[i + 1]! + Math.floor(overlap / 2),
  }));
}
