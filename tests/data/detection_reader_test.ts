import {
  deepStrictEqual as assertDeepEquals,
  ok as assert,
  rejects as assertRejects,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { readCocoSplit } from "../../lib/data/coco.ts";
import { loadDetectionSplit } from "../../lib/data/detection_layout.ts";
import { DetectionReader } from "../../lib/data/detection_reader.ts";
import type { DetectionTile } from "../../lib/data/detection_tiles.ts";
import { planTiles } from "../../lib/data/tiler.ts";

const fixture = new URL("../../fixtures/detection", import.meta.url).pathname;

/** The fixture's colours: blue squares, red discs, yellow triangles. */
function looksLike(classIndex: number, [r, g, b]: number[]): boolean {
  if (classIndex === 0) return b! > 150 && r! < 100;
  if (classIndex === 1) return r! > 150 && g! < 100;
  return r! > 150 && g! > 150 && b! < 100;
}

Deno.test("DetectionReader: tiles of every image, objects where their pixels are", async () => {
  const split = await loadDetectionSplit({ data: fixture, split: "train" });
  const reader = new DetectionReader(split, { size: 128 });
  const tiles: DetectionTile[] = [];
  for await (const tile of reader.tiles()) tiles.push(tile);
  const expectedCount = split.images.reduce(
    (n, im) => n + planTiles(im.width, im.height, { size: 128 }).length,
    0,
  );
  assertEquals(tiles.length, expectedCount);
  // 288x176 cut into 3 x 2 tiles; 200x150 and 160x120 into 2 x 2.
  assertEquals(tiles.filter((t) => t.source.width === 288).length, 6);
  let checked = 0;
  for (const tile of tiles) {
    for (const object of tile.objects) {
      const [x, y, w, h] = object.bbox;
      assert(
        x >= 0 && y >= 0 && x + w <= tile.validWidth + 1e-9 && y + h <= tile.validHeight + 1e-9,
      );
      // The box centre of a whole (unclipped) shape is inside it: its colour is there.
      if (Math.abs(w - h) > 1e-6) continue;
      const cx = Math.floor(x + w / 2);
      const cy = Math.floor(y + h / 2);
      const i = (cy * tile.size + cx) * 3;
      assert(
        looksLike(object.classIndex, [...tile.image.subarray(i, i + 3)]),
        `image ${tile.source.id} tile ${tile.index}: class ${object.classIndex} at (${cx}, ${cy})`,
      );
      checked++;
    }
  }
  assert(checked >= 15, `only ${checked} objects checked`);
  // Every object of an image that is not tiled is in its one tile.
  const single = tiles.find((t) => t.count === 1 && t.scale !== 1)!;
  assertEquals(single.objects.length, single.source.objects.length);
  // Shapes cut by a tile border: each one is in every tile that holds some of it, difficult
  // where that tile holds 0.7 of its area or less; with --tile-keep 0 none is difficult.
  const difficult = tiles.flatMap((t) => t.objects.filter((o) => o.difficult));
  assert(difficult.length > 0, "no cut shape in the fixture's tiled images");
  const lenient: DetectionTile[] = [];
  for await (const tile of new DetectionReader(split, { size: 128, tileKeep: 0 }).tiles()) {
    lenient.push(tile);
  }
  assertEquals(lenient.flatMap((t) => t.objects.filter((o) => o.difficult)).length, 0);
  assertEquals(
    lenient.flatMap((t) => t.objects).length,
    tiles.flatMap((t) => t.objects).length,
  );
  assertThrows(() => new DetectionReader(split, { size: 128, tileKeep: 1.5 }), RangeError);
});

Deno.test("DetectionReader: seeded order per epoch, batches, id order without a seed", async () => {
  const split = await loadDetectionSplit({ data: fixture, split: "train" });
  const ids = split.images.map((im) => im.id);
  assertDeepEquals(new DetectionReader(split, { size: 128 }).order().map((im) => im.id), ids);
  const seeded = new DetectionReader(split, { size: 128, seed: 3 });
  const first = seeded.order(0).map((im) => im.id);
  assertDeepEquals([...first].sort((a, b) => a - b), ids);
  assertDeepEquals(
    new DetectionReader(split, { size: 128, seed: 3 }).order(0).map((im) => im.id),
    first,
  );
  assert(first.join() !== seeded.order(1).map((im) => im.id).join());
  const sizes: number[] = [];
  for await (const batch of seeded.batches(4, 0)) sizes.push(batch.length);
  const total = split.images.reduce(
    (n, im) => n + planTiles(im.width, im.height, { size: 128 }).length,
    0,
  );
  assertEquals(sizes.reduce((a, b) => a + b, 0), total);
  assert(sizes.slice(0, -1).every((s) => s === 4));
});

Deno.test("DetectionReader: an image whose size is not the annotation's; skipBad", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gt = JSON.parse(await Deno.readTextFile(`${fixture}/annotations/instances_val.json`));
    gt.images[1].width = 129;
    await Deno.writeTextFile(`${dir}/gt.json`, JSON.stringify(gt));
    const split = await readCocoSplit({
      annotations: `${dir}/gt.json`,
      imagesDir: `${fixture}/images/val`,
      split: "val",
    });
    const reader = new DetectionReader(split, { size: 128 });
    await assertRejects(
      (async () => {
        for await (const _ of reader.samples()) { /* read all */ }
      })(),
      new RegExp(
        `^RangeError: Cannot read image ".*val_009_128x128\\.png": it is 128x128, "${dir}/gt\\.json" says 129x128$`,
      ),
    );
    const skipped: string[] = [];
    const lenient = new DetectionReader(split, {
      size: 128,
      skipBad: true,
      onSkip: (s) => skipped.push(s.path),
    });
    let count = 0;
    for await (const _ of lenient.samples()) count++;
    assertEquals(count, 7); // the val split's 8 images but the one of the wrong size
    assertEquals(skipped.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
