/**
 * Clipping a polygon to an axis-aligned rectangle (Sutherland–Hodgman: the polygon cut by each of
 * the rectangle's four edges in turn), as the DOTA devkit's `ImgSplit` intersects an object's
 * polygon with a tile (there with shapely) before it weighs how much of the object the tile holds.
 * For the convex outlines of detection data (FAIR-1M's quadrilaterals, boxes) the result is the
 * exact intersection; for a concave polygon the area is still exact, though the outline may run
 * along the rectangle's edge between its pieces.
 *
 * @module
 */

/** A rectangle by its edges, `x0 <= x1`, `y0 <= y1`. */
export interface ClipRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The part of `polygon` (flat `[x0, y0, x1, y1, ...]`) inside `rect`, flat, in the same vertex
 * order; empty (`[]`) when nothing of it is inside. Points on an edge count as inside.
 *
 * @example
 * ```ts
 * import { clipPolygon } from "./polygon_clip.ts";
 * // A 10 x 10 square with its right 4 columns beyond x = 6.
 * clipPolygon([0, 0, 10, 0, 10, 10, 0, 10], { x0: 0, y0: 0, x1: 6, y1: 20 });
 * // [0, 0, 6, 0, 6, 10, 0, 10]
 * ```
 */
export function clipPolygon(polygon: readonly number[], rect: ClipRect): number[] {
  let points: [number, number][] = [];
  for (let i = 0; i + 1 < polygon.length; i += 2) points.push([polygon[i]!, polygon[i + 1]!]);
  // Each edge: which side is inside, and where a segment crosses the edge's line.
  const edges: [
    (p: [number, number]) => boolean,
    (a: number[], b: number[]) => [number, number],
  ][] = [
    [(p) => p[0] >= rect.x0, (a, b) => crossX(a, b, rect.x0)],
    [(p) => p[0] <= rect.x1, (a, b) => crossX(a, b, rect.x1)],
    [(p) => p[1] >= rect.y0, (a, b) => crossY(a, b, rect.y0)],
    [(p) => p[1] <= rect.y1, (a, b) => crossY(a, b, rect.y1)],
  ];
  for (const [inside, cross] of edges) {
    if (points.length === 0) break;
    const next: [number, number][] = [];
    for (let i = 0; i < points.length; i++) {
      const current = points[i]!;
      const previous = points[(i + points.length - 1) % points.length]!;
      if (inside(current)) {
        if (!inside(previous)) next.push(cross(previous, current));
        next.push(current);
      } else if (inside(previous)) {
        next.push(cross(previous, current));
      }
    }
    points = next;
  }
  // Consecutive repeats (a vertex on an edge is both kept and a crossing) add nothing.
  const kept = points.filter((p, i) => {
    const q = points[(i + points.length - 1) % points.length]!;
    return points.length === 1 || p[0] !== q[0] || p[1] !== q[1];
  });
  return kept.length < 3 ? [] : kept.flat();
}

function crossX(a: number[], b: number[], x: number): [number, number] {
  const t = (x - a[0]!) / (b[0]! - a[0]!);
  return [x, a[1]! + t * (b[1]! - a[1]!)];
}

function crossY(a: number[], b: number[], y: number): [number, number] {
  const t = (y - a[1]!) / (b[1]! - a[1]!);
  return [a[0]! + t * (b[0]! - a[0]!), y];
}
