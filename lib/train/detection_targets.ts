/**
 * Training targets of the detection head: each object's class and its mask at the decoder's output
 * resolution, rasterised from its polygon (COCO segmentation, FAIR-1M quadrilateral) or, without
 * one, its box.
 *
 * @module
 */
import type { DetectionObject } from "../data/detection_split.ts";
import { rasterizeObject } from "../image/rasterize.ts";

/** The objects of one tile as the loss takes them. */
export interface DetectionTargets {
  /** Class index of each of the n objects. */
  classes: Int32Array;
  /**
   * 1 for an object that takes no loss (difficult: mostly outside its tile), 0 else; absent: all
   * 0. Such an object is still matched, so that the query that finds it is not told "no object".
   */
  ignored?: Uint8Array;
  /** `[n, height, width]` 0/1 masks at the decoder's output resolution. */
  masks: Float32Array;
  height: number;
  width: number;
}

/**
 * Rasterises the objects of a tile (in tile pixels, the tile `tileSize` wide) onto a
 * `gridSize x gridSize` grid: a cell is on when its centre lies inside one of the object's
 * polygons (lib/image/rasterize.ts) or, for an object without polygons, inside its box. An object too
 * small to cover any cell centre gets the cell holding its box's centre, so that every target
 * has a mask to match. Crowd regions are left out (they are scored, not learned); difficult
 * objects are kept, marked `ignored` (the loss matches them but takes nothing on them).
 *
 * @example
 * ```ts
 * import { rasteriseTargets } from "./detection_targets.ts";
 * const box = { classIndex: 2, bbox: [0, 0, 8, 4] as [number, number, number, number], area: 32,
 *   iscrowd: false, difficult: false };
 * const targets = rasteriseTargets([box], 16, 4); // cells of 4 x 4 tile pixels
 * [...targets.masks.subarray(0, 4)]; // [1, 1, 0, 0]: the first row's two left cells
 * ```
 */
export function rasteriseTargets(
  objects: readonly DetectionObject[],
  tileSize: number,
  gridSize: number,
): DetectionTargets {
  const learned = objects.filter((object) => !object.iscrowd);
  const cells = gridSize * gridSize;
  const masks = new Float32Array(learned.length * cells);
  const cell = tileSize / gridSize;
  learned.forEach((object, n) => {
    const mask = rasterizeObject(object, { width: gridSize, height: gridSize, scale: 1 / cell });
    if (mask.some((value) => value !== 0)) {
      masks.set(mask, n * cells);
      return;
    }
    const [x, y, w, h] = object.bbox;
    const column = Math.min(gridSize - 1, Math.max(0, Math.floor((x + w / 2) / cell)));
    const row = Math.min(gridSize - 1, Math.max(0, Math.floor((y + h / 2) / cell)));
    masks[n * cells + row * gridSize + column] = 1;
  });
  return {
    classes: Int32Array.from(learned, (object) => object.classIndex),
    ignored: Uint8Array.from(learned, (object) => object.difficult ? 1 : 0),
    masks,
    height: gridSize,
    width: gridSize,
  };
}
