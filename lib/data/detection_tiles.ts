/**
 * Which objects of an image a tile answers for, in the tile's own coordinates.
 *
 * An object belongs to a tile when at least half of its box's area lies inside the tile's content
 * window (the part of the source image the tile holds); its box is then clipped to that window.
 * A resized single tile holds its whole image, so every object belongs to it, scaled. Boxes of
 * zero area belong to the tile whose window holds their corner.
 *
 * @module
 */
import type { BoxXywh } from "../image/box.ts";
import type { DetectionImage, DetectionObject } from "./detection_split.ts";
import type { Tile, TilePlacement } from "./tiler.ts";

/** A tile of a detection image with the objects that belong to it, in tile pixels. */
export interface DetectionTile extends Tile {
  /** The image the tile was cut from (its objects in source pixels). */
  source: DetectionImage;
  /** Objects that belong to this tile: boxes clipped to it, everything scaled to tile pixels. */
  objects: DetectionObject[];
}

/** Least fraction of a box's area inside a tile for the object to belong to it. */
export const TILE_MEMBERSHIP_FRACTION = 0.5;

/**
 * The objects of a tile, from its placement: boxes clipped to the content window, shifted to the
 * tile's origin and scaled by its `scale`; polygons shifted and scaled (not clipped); `area`
 * scaled by `scale²` and by the fraction of the box kept.
 *
 * @example
 * ```ts
 * import { objectsInTile } from "./detection_tiles.ts";
 * import { planTiles } from "./tiler.ts";
 * const [left, right] = planTiles(256, 128, { size: 128 });
 * const car = { classIndex: 0, bbox: [100, 10, 40, 20] as [number, number, number, number],
 *   area: 800, iscrowd: false, difficult: false };
 * objectsInTile([car], left!).length; // 1: 28 of its 40 columns are in the left tile
 * objectsInTile([car], right!)[0]; // undefined: only 12 columns are in the right one
 * ```
 */
export function objectsInTile(
  objects: readonly DetectionObject[],
  placement: TilePlacement,
): DetectionObject[] {
  const { scale } = placement;
  // The content window in source pixels (the whole image for a resized tile).
  const window = scale === 1
    ? {
      x0: placement.x,
      y0: placement.y,
      x1: placement.x + placement.validWidth,
      y1: placement.y + placement.validHeight,
    }
    : { x0: 0, y0: 0, x1: placement.sourceWidth, y1: placement.sourceHeight };
  const kept: DetectionObject[] = [];
  for (const object of objects) {
    const [x, y, w, h] = object.bbox;
    const cx0 = Math.max(x, window.x0);
    const cy0 = Math.max(y, window.y0);
    const cx1 = Math.min(x + w, window.x1);
    const cy1 = Math.min(y + h, window.y1);
    const boxArea = w * h;
    let fraction: number;
    if (boxArea > 0) {
      const inside = Math.max(0, cx1 - cx0) * Math.max(0, cy1 - cy0);
      fraction = inside / boxArea;
      if (fraction < TILE_MEMBERSHIP_FRACTION) continue;
    } else {
      if (x < window.x0 || x >= window.x1 || y < window.y0 || y >= window.y1) continue;
      fraction = 1;
    }
    const toTile = (value: number, origin: number) => (value - origin) * scale;
    const bbox: BoxXywh = [
      toTile(cx0, placement.x),
      toTile(cy0, placement.y),
      Math.max(0, cx1 - cx0) * scale,
      Math.max(0, cy1 - cy0) * scale,
    ];
    const moved: DetectionObject = {
      ...object,
      bbox,
      area: object.area * scale * scale * fraction,
    };
    if (object.polygons) {
      moved.polygons = object.polygons.map((polygon) =>
        polygon.map((value, i) => toTile(value, i % 2 === 0 ? placement.x : placement.y))
      );
    }
    kept.push(moved);
  }
  return kept;
}
