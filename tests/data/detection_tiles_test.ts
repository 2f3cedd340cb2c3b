import {
  deepStrictEqual as assertDeepEquals,
  strictEqual as assertEquals,
} from "node:assert/strict";
import type { DetectionObject } from "../../lib/data/detection_split.ts";
import type { BoxXywh } from "../../lib/image/box.ts";
import { objectsInTile } from "../../lib/data/detection_tiles.ts";
import { planTiles } from "../../lib/data/tiler.ts";

function object(bbox: BoxXywh, polygons?: number[][]): DetectionObject {
  return {
    classIndex: 1,
    bbox,
    area: bbox[2] * bbox[3],
    iscrowd: false,
    difficult: false,
    ...(polygons ? { polygons } : {}),
  };
}

Deno.test("objectsInTile: half the box inside or more, clipped to the tile, in tile pixels", () => {
  const [left, right] = planTiles(256, 128, { size: 128 });
  const mostlyLeft = object([100, 10, 40, 20]);
  assertDeepEquals(objectsInTile([mostlyLeft], left!), [
    { ...mostlyLeft, bbox: [100, 10, 28, 20], area: 800 * 0.7 },
  ]);
  assertDeepEquals(objectsInTile([mostlyLeft], right!), []);
  const half = object([108, 0, 40, 10], [[108, 0, 148, 0, 148, 10]]);
  assertDeepEquals(objectsInTile([half], left!).map((o) => o.bbox), [[108, 0, 20, 10]]);
  // Exactly half: in both; the polygon moves with the tile, unclipped.
  assertDeepEquals(objectsInTile([half], right!), [
    { ...half, bbox: [0, 0, 20, 10], area: 200, polygons: [[-20, 0, 20, 0, 20, 10]] },
  ]);
  const point = object([130, 5, 0, 0]);
  assertDeepEquals(objectsInTile([point], left!), []);
  assertDeepEquals(objectsInTile([point], right!).map((o) => o.bbox), [[2, 5, 0, 0]]);
});

Deno.test("objectsInTile: a resized image's single tile holds every object, scaled", () => {
  const [tile] = planTiles(64, 32, { size: 128 });
  assertEquals(tile!.scale, 2);
  const small = object([10, 4, 6, 8], [[10, 4, 16, 4, 16, 12]]);
  assertDeepEquals(objectsInTile([small], tile!), [
    { ...small, bbox: [20, 8, 12, 16], area: 192, polygons: [[20, 8, 32, 8, 32, 24]] },
  ]);
});

Deno.test("objectsInTile: overlapping tiles may share an object; the padding is not content", () => {
  const tiles = planTiles(200, 100, { size: 128, overlap: 56 });
  assertDeepEquals(tiles.map((t) => [t.x, t.validWidth, t.validHeight]), [[0, 128, 100], [
    72,
    128,
    100,
  ]]);
  const shared = object([80, 0, 40, 10]);
  assertDeepEquals(tiles.map((t) => objectsInTile([shared], t).map((o) => o.bbox)), [
    [[80, 0, 40, 10]],
    [[8, 0, 40, 10]],
  ]);
  // A box reaching past the image's bottom edge is clipped at the content, not the tile.
  const [top] = planTiles(300, 100, { size: 128 });
  assertDeepEquals(objectsInTile([object([0, 80, 10, 40])], top!).map((o) => o.bbox), [[
    0,
    80,
    10,
    20,
  ]]);
});
