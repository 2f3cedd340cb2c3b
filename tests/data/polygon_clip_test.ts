import {
  deepStrictEqual as assertDeepEquals,
  strictEqual as assertEquals,
} from "node:assert/strict";
import { polygonArea } from "../../lib/data/coco.ts";
import { clipPolygon } from "../../lib/data/polygon_clip.ts";

const rect = { x0: 0, y0: 0, x1: 10, y1: 10 };

Deno.test("clipPolygon: inside unchanged, outside empty, cut at the edges", () => {
  assertDeepEquals(clipPolygon([1, 1, 5, 1, 3, 4], rect), [1, 1, 5, 1, 3, 4]);
  assertDeepEquals(clipPolygon([11, 1, 15, 1, 13, 4], rect), []);
  // A diamond centred on the corner (10, 10): a quarter of it is inside.
  const diamond = [10, 6, 14, 10, 10, 14, 6, 10];
  const clipped = clipPolygon(diamond, rect);
  assertEquals(polygonArea(clipped), polygonArea(diamond) / 4);
  assertDeepEquals(clipped, [10, 6, 10, 10, 6, 10]);
  // A polygon around the rectangle: the rectangle itself.
  assertEquals(polygonArea(clipPolygon([-5, -5, 15, -5, 15, 15, -5, 15], rect)), 100);
  // Touching an edge only: no area, no polygon.
  assertDeepEquals(clipPolygon([10, 2, 14, 2, 14, 6, 10, 6], rect), []);
});

Deno.test("clipPolygon: a concave polygon's area inside is exact", () => {
  // A U shape over x in [-5, 15], 10 high, its notch x in [0, 10], y in [5, 10]: inside the
  // rectangle only the U's base below the notch remains, 10 x 5.
  const u = [-5, 0, 15, 0, 15, 10, 10, 10, 10, 5, 0, 5, 0, 10, -5, 10];
  assertEquals(polygonArea(clipPolygon(u, rect)), 100 - 50);
});
