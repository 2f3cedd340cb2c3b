/**
 * Rasterising object outlines into 0/1 masks: a pixel is on when its centre lies inside.
 *
 * Coordinates are continuous: pixel (row r, column c) has its centre at `(c + 0.5, r + 0.5)`.
 * Polygons are filled by scanlines through the pixel centres, with the even-odd or the non-zero
 * winding rule (they differ only for self-intersecting outlines); an edge counts on a scanline
 * when the line lies in `[min y, max y)` of the edge, and a centre exactly on a left edge is in,
 * on a right edge out, so that polygons sharing an edge never both claim its pixels.
 *
 * @module
 */
import type { BoxXywh } from "./box.ts";

/** The two polygon fill rules. */
export type FillRule = "evenodd" | "nonzero";

/** Size of the mask and where the outline's coordinates land on it. */
export interface RasterGrid {
  width: number;
  height: number;
  /** Mask pixels per outline unit (e.g. 0.25 for a 1024-px tile onto a 256 grid); default 1. */
  scale?: number;
}

/**
 * Fills a polygon (flat `[x0, y0, x1, y1, ...]`, closed implicitly) into `mask` (ORed in).
 *
 * @example
 * ```ts
 * import { fillPolygon } from "./rasterize.ts";
 * const mask = new Uint8Array(4 * 3);
 * fillPolygon(mask, [1, 0, 3, 0, 3, 2, 1, 2], { width: 4, height: 3 });
 * [...mask]; // [0,1,1,0, 0,1,1,0, 0,0,0,0]
 * ```
 */
export function fillPolygon(
  mask: Uint8Array,
  polygon: readonly number[],
  grid: RasterGrid,
  rule: FillRule = "nonzero",
): Uint8Array {
  const { width, height } = grid;
  const scale = grid.scale ?? 1;
  if (mask.length !== width * height) {
    throw new RangeError(`Mask has ${mask.length} pixels, the grid ${width}x${height}`);
  }
  const n = Math.floor(polygon.length / 2);
  if (n < 3) return mask;
  const xs = Array.from({ length: n }, (_, i) => polygon[2 * i]! * scale);
  const ys = Array.from({ length: n }, (_, i) => polygon[2 * i + 1]! * scale);
  const top = Math.max(0, Math.floor(Math.min(...ys) - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(...ys) - 0.5));
  const crossings: { x: number; winding: number }[] = [];
  for (let row = top; row <= bottom; row++) {
    const y = row + 0.5;
    crossings.length = 0;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const y0 = ys[i]!;
      const y1 = ys[j]!;
      if (y0 === y1) continue;
      const lower = Math.min(y0, y1);
      if (y < lower || y >= Math.max(y0, y1)) continue;
      const x = xs[i]! + (y - y0) / (y1 - y0) * (xs[j]! - xs[i]!);
      crossings.push({ x, winding: y1 > y0 ? 1 : -1 });
    }
    crossings.sort((a, b) => a.x - b.x);
    let winding = 0;
    for (let k = 0; k < crossings.length - 1; k++) {
      winding = rule === "evenodd" ? winding ^ 1 : winding + crossings[k]!.winding;
      if (winding === 0) continue;
      // Columns whose centre c + 0.5 lies in [x_k, x_{k+1}).
      const first = Math.max(0, Math.ceil(crossings[k]!.x - 0.5));
      const last = Math.min(width - 1, Math.ceil(crossings[k + 1]!.x - 0.5) - 1);
      for (let c = first; c <= last; c++) mask[row * width + c] = 1;
    }
  }
  return mask;
}

/**
 * Fills a box `[x, y, w, h]` (pixels whose centre lies in `[x, x + w) x [y, y + h)`) into `mask`.
 *
 * @example
 * ```ts
 * import { fillBox } from "./rasterize.ts";
 * [...fillBox(new Uint8Array(4), [0.6, 0, 1, 1], { width: 4, height: 1 })]; // [0, 1, 0, 0]
 * ```
 */
export function fillBox(mask: Uint8Array, box: BoxXywh, grid: RasterGrid): Uint8Array {
  const [x, y, w, h] = box;
  return fillPolygon(mask, [x, y, x + w, y, x + w, y + h, x, y + h], grid);
}

/** What {@link rasterizeObject} reads of an annotated object (a split's `DetectionObject`). */
export interface OutlinedObject {
  bbox: BoxXywh;
  /** Outline(s), each a flat `[x0, y0, x1, y1, ...]` list; absent or empty: the box is used. */
  polygons?: number[][];
}

/**
 * An object's mask target: its polygons (COCO segmentation parts, or FAIR-1M's quadrilateral),
 * united, each filled with `rule`; its box when it has none.
 *
 * @example
 * ```ts
 * import { rasterizeObject } from "./rasterize.ts";
 * const car = { bbox: [0, 0, 8, 8] as [number, number, number, number] };
 * rasterizeObject(car, { width: 4, height: 4, scale: 0.25 }); // pixels 0,1 of rows 0,1 on
 * ```
 */
export function rasterizeObject(
  object: OutlinedObject,
  grid: RasterGrid,
  rule: FillRule = "nonzero",
): Uint8Array {
  const mask = new Uint8Array(grid.width * grid.height);
  if (object.polygons && object.polygons.length > 0) {
    for (const polygon of object.polygons) fillPolygon(mask, polygon, grid, rule);
  } else {
    fillBox(mask, object.bbox, grid);
  }
  return mask;
}
