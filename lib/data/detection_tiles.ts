/**
 * Which objects of an image a tile answers for, in the tile's own coordinates, as the DOTA
 * devkit's `ImgSplit` cuts DOTA and FAIR-1M images:
 *
 * - each object's polygons (its box when it has none) are clipped to the tile's content window
 *   (the part of the source image the tile holds), and the fraction of their area inside decides;
 * - more than `keep` (default 0.7) inside: the object is kept, clipped;
 * - some of it inside, at most `keep`: kept as `difficult`, clipped (it takes no loss in
 *   training, and the VOC07 score would leave it out of the positives);
 * - nothing inside: not in the tile.
 *
 * A kept object's box is its clipped polygons' bounding box (its box clipped to the window when it
 * has no polygons). A resized single tile holds its whole image, so every object belongs to it,
 * scaled. Boxes of zero area belong to the tile whose window holds their corner. The devkit also
 * reduces a clipped polygon to 4 points (and drops one of 6 or more); here the clipped outline is
 * kept whole, since it is rasterised into a mask target, not written as DOTA's 8 numbers.
 *
 * @module
 */
import type { BoxXywh } from "../image/box.ts";
import { polygonArea } from "./coco.ts";
import type { DetectionImage, DetectionObject } from "./detection_split.ts";
import { clipPolygon, type ClipRect } from "./polygon_clip.ts";
import type { Tile, TilePlacement } from "./tiler.ts";

/** A tile of a detection image with the objects that belong to it, in tile pixels. */
export interface DetectionTile extends Tile {
  /** The image the tile was cut from (its objects in source pixels). */
  source: DetectionImage;
  /** Objects that belong to this tile: clipped to it, everything scaled to tile pixels. */
  objects: DetectionObject[];
}

/**
 * Fraction of an object's area a tile must hold, strictly more, for the object to be kept as it
 * is; at or below it, a cut object is kept as difficult (DOTA devkit `ImgSplit`'s `thresh`).
 */
export const TILE_KEEP_FRACTION = 0.7;

/**
 * Checks a `--tile-keep` value: a fraction in [0, 1). (At 1, a difficult object would be every
 * cut one; at 0 every cut object is kept as it is.)
 *
 * @example
 * ```ts
 * import { checkTileKeep } from "./detection_tiles.ts";
 * checkTileKeep(0.7); // no error
 * ```
 */
export function checkTileKeep(keep: number): void {
  if (!Number.isFinite(keep) || keep < 0 || keep >= 1) {
    throw new RangeError(`Tile keep fraction must be at least 0 and below 1, got ${keep}`);
  }
}

/**
 * The objects of a tile, from its placement: polygons (or boxes) clipped to the content window,
 * shifted to the tile's origin and scaled by its `scale`; `area` scaled by `scale²` and by the
 * fraction kept; objects that keep `keep` of their area or less marked `difficult`.
 *
 * @example
 * ```ts
 * import { objectsInTile } from "./detection_tiles.ts";
 * import { planTiles } from "./tiler.ts";
 * const [left, right] = planTiles(256, 128, { size: 128 });
 * const car = { classIndex: 0, bbox: [100, 10, 40, 20] as [number, number, number, number],
 *   area: 800, iscrowd: false, difficult: false };
 * objectsInTile([car], left!)[0]!.difficult; // true: 28 of its 40 columns (0.7) are in the left tile
 * objectsInTile([car], left!, 0.6)[0]!.difficult; // false: more than 0.6 is inside
 * objectsInTile([car], right!)[0]!.bbox; // [0, 10, 12, 20], difficult: 0.3 inside
 * ```
 */
export function objectsInTile(
  objects: readonly DetectionObject[],
  placement: TilePlacement,
  keep = TILE_KEEP_FRACTION,
): DetectionObject[] {
  checkTileKeep(keep);
  const { scale } = placement;
  // The content window in source pixels (the whole image for a resized tile).
  const window: ClipRect = scale === 1
    ? {
      x0: placement.x,
      y0: placement.y,
      x1: placement.x + placement.validWidth,
      y1: placement.y + placement.validHeight,
    }
    : { x0: 0, y0: 0, x1: placement.sourceWidth, y1: placement.sourceHeight };
  const toTile = (value: number, origin: number) => (value - origin) * scale;
  const movePolygon = (polygon: readonly number[]) =>
    polygon.map((value, i) => toTile(value, i % 2 === 0 ? placement.x : placement.y));
  const kept: DetectionObject[] = [];
  for (const object of objects) {
    const [x, y, w, h] = object.bbox;
    if (w * h <= 0) {
      if (x < window.x0 || x >= window.x1 || y < window.y0 || y >= window.y1) continue;
      const point: DetectionObject = {
        ...object,
        bbox: [toTile(x, placement.x), toTile(y, placement.y), 0, 0],
      };
      if (object.polygons) point.polygons = object.polygons.map(movePolygon);
      kept.push(point);
      continue;
    }
    // The polygons weigh the object; without them (or with none of positive area), its box.
    const polygonsArea = (object.polygons ?? []).reduce((sum, p) => sum + polygonArea(p), 0);
    const outlines = polygonsArea > 0
      ? object.polygons!
      : [[x, y, x + w, y, x + w, y + h, x, y + h]];
    const whole = polygonsArea > 0 ? polygonsArea : w * h;
    const clipped = outlines.map((polygon) => clipPolygon(polygon, window))
      .filter((polygon) => polygon.length > 0);
    const inside = clipped.reduce((sum, polygon) => sum + polygonArea(polygon), 0);
    if (inside <= 0) continue;
    const fraction = Math.min(1, inside / whole);
    // The clipped outlines' bounds, within the box clipped to the window.
    let bx0 = Math.max(x, window.x0);
    let by0 = Math.max(y, window.y0);
    let bx1 = Math.min(x + w, window.x1);
    let by1 = Math.min(y + h, window.y1);
    if (polygonsArea > 0 && fraction < 1) {
      const xs = clipped.flatMap((polygon) => polygon.filter((_, i) => i % 2 === 0));
      const ys = clipped.flatMap((polygon) => polygon.filter((_, i) => i % 2 === 1));
      bx0 = Math.max(bx0, Math.min(...xs));
      by0 = Math.max(by0, Math.min(...ys));
      bx1 = Math.min(bx1, Math.max(...xs));
      by1 = Math.min(by1, Math.max(...ys));
    }
    const bbox: BoxXywh = [
      toTile(bx0, placement.x),
      toTile(by0, placement.y),
      Math.max(0, bx1 - bx0) * scale,
      Math.max(0, by1 - by0) * scale,
    ];
    const moved: DetectionObject = {
      ...object,
      bbox,
      area: object.area * scale * scale * fraction,
      difficult: object.difficult || fraction <= keep,
    };
    if (object.polygons) {
      // Degenerate polygons (no area) stay as they are: the box stands for the object.
      moved.polygons = (polygonsArea > 0 ? clipped : object.polygons).map(movePolygon);
    }
    kept.push(moved);
  }
  return kept;
}
