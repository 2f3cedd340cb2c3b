import {
  deepStrictEqual as assertDeepEquals,
  strictEqual as assertEquals,
  throws as assertThrows,
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

Deno.test("objectsInTile: more than 0.7 of the area inside is kept, 0.7 or less is difficult", () => {
  const [left, right] = planTiles(256, 128, { size: 128 });
  // 32 of 40 columns (0.8) in the left tile, 8 (0.2) in the right one.
  const mostlyLeft = object([96, 10, 40, 20]);
  assertDeepEquals(objectsInTile([mostlyLeft], left!), [
    { ...mostlyLeft, bbox: [96, 10, 32, 20], area: 800 * 0.8 },
  ]);
  assertDeepEquals(objectsInTile([mostlyLeft], right!), [
    { ...mostlyLeft, bbox: [0, 10, 8, 20], area: 800 * 0.2, difficult: true },
  ]);
  // 24 of 40 (0.6): difficult on the left, 0.4 on the right difficult too; neither is dropped.
  const cut = object([104, 0, 40, 10]);
  assertDeepEquals(objectsInTile([cut], left!).map((o) => [o.bbox, o.difficult]), [
    [[104, 0, 24, 10], true],
  ]);
  assertDeepEquals(objectsInTile([cut], right!).map((o) => [o.bbox, o.difficult]), [
    [[0, 0, 16, 10], true],
  ]);
  // Exactly 0.7 is not "more than": difficult; a lower --tile-keep keeps it.
  const seventy = object([100, 0, 40, 10]);
  assertEquals(objectsInTile([seventy], left!)[0]!.difficult, true);
  assertEquals(objectsInTile([seventy], left!, 0.65)[0]!.difficult, false);
  // Nothing inside: not in the tile at all; an object already difficult stays so.
  assertDeepEquals(objectsInTile([object([140, 0, 10, 10])], left!), []);
  assertEquals(
    objectsInTile([{ ...object([0, 0, 10, 10]), difficult: true }], left!)[0]!.difficult,
    true,
  );
  const point = object([130, 5, 0, 0]);
  assertDeepEquals(objectsInTile([point], left!), []);
  assertDeepEquals(objectsInTile([point], right!).map((o) => o.bbox), [[2, 5, 0, 0]]);
  assertThrows(() => objectsInTile([point], left!, 1), RangeError);
  assertThrows(() => objectsInTile([point], left!, -0.1), RangeError);
});

Deno.test("objectsInTile: the polygon's area decides, and the polygon is clipped to the tile", () => {
  const [left, right] = planTiles(256, 128, { size: 128 });
  // A right triangle (0,0)-(40,0)-(0,40) at x = 100: 800 px², its box 1600 px².
  const triangle = object([100, 0, 40, 40], [[100, 0, 140, 0, 100, 40]]);
  // Left of x = 128 lies all of it but the corner triangle of legs 12 (72 px²): 728 / 800 = 0.91,
  // though only 28 of the box's 40 columns (0.7) are inside.
  const [kept] = objectsInTile([triangle], left!);
  assertEquals(kept!.difficult, false);
  assertEquals(kept!.area, 1600 * 728 / 800);
  assertDeepEquals(kept!.polygons, [[100, 0, 128, 0, 128, 12, 100, 40]]);
  assertDeepEquals(kept!.bbox, [100, 0, 28, 40]);
  // The right tile holds the corner, 72 / 800 = 0.09: difficult, its clipped polygon and box.
  const [corner] = objectsInTile([triangle], right!);
  assertEquals(corner!.difficult, true);
  assertDeepEquals(corner!.polygons, [[0, 0, 12, 0, 0, 12]]);
  assertDeepEquals(corner!.bbox, [0, 0, 12, 12]);
  // A square cut at 0.6 and at 0.8 by polygon area.
  const square = (x: number) => object([x, 50, 20, 20], [[x, 50, x + 20, 50, x + 20, 70, x, 70]]);
  assertEquals(objectsInTile([square(116)], left!)[0]!.difficult, true); // 12 of 20 columns
  assertDeepEquals(objectsInTile([square(116)], left!)[0]!.polygons, [[
    116,
    50,
    128,
    50,
    128,
    70,
    116,
    70,
  ]]);
  assertEquals(objectsInTile([square(112)], left!)[0]!.difficult, false); // 16 of 20
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
