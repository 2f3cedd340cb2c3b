import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { TileStitcher } from "../../lib/data/stitcher.ts";
import { cutTiles, planTiles } from "../../lib/data/tiler.ts";
import type { Tile } from "../../lib/data/tiler.ts";
import type { RasterImage } from "../../lib/image/decode.ts";
import { resizeImage } from "../../lib/image/resize.ts";

function randomRaster(width: number, height: number, channels: number, values = 256): RasterImage {
  const random = mulberry32(width * 31 + height);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * values);
  return { data, width, height, channels };
}

async function collect(image: RasterImage, label: RasterImage | null, size: number, overlap = 0) {
  const tiles: Tile[] = [];
  for await (const tile of cutTiles(image, label, { size, overlap })) tiles.push(tile);
  return tiles;
}

for (const overlap of [0, 128, 1]) {
  Deno.test(`cutTiles() of a 2500x1300 image (S=1024, overlap ${overlap}) stitches back exactly`, async () => {
    const image = randomRaster(2500, 1300, 3);
    const label = randomRaster(2500, 1300, 1, 5);
    const tiles = await collect(image, label, 1024, overlap);
    const stride = 1024 - overlap;
    const perAxis = (length: number) => Math.ceil((length - 1024) / stride) + 1;
    assertEquals(tiles.length, perAxis(2500) * perAxis(1300));
    const coverage = new Uint8Array(2500 * 1300);
    const imageStitch = new TileStitcher(new Uint8Array(2500 * 1300 * 3), {
      width: 2500,
      height: 1300,
      channels: 3,
    });
    const labelStitch = new TileStitcher(new Uint8Array(2500 * 1300), {
      width: 2500,
      height: 1300,
    });
    for (const tile of tiles) {
      assertEquals(tile.scale, 1);
      assertEquals([tile.validWidth, tile.validHeight], [
        Math.min(1024, 2500 - tile.x),
        Math.min(1024, 1300 - tile.y),
      ]);
      // Every tile pixel inside the image equals its source pixel; outside it is padding.
      for (let y = 0; y < 1024; y += 7) {
        for (let x = 0; x < 1024; x += 5) {
          const inside = x < tile.validWidth && y < tile.validHeight;
          const source = (tile.y + y) * 2500 + tile.x + x;
          assertEquals(tile.label![y * 1024 + x], inside ? label.data[source] : 255);
          assertEquals(tile.image[(y * 1024 + x) * 3 + 1], inside ? image.data[source * 3 + 1] : 0);
        }
      }
      const { own } = tile;
      assert(own.x >= tile.x && own.x + own.width <= tile.x + tile.validWidth);
      assert(own.y >= tile.y && own.y + own.height <= tile.y + tile.validHeight);
      for (let y = own.y; y < own.y + own.height; y++) {
        for (let x = own.x; x < own.x + own.width; x++) coverage[y * 2500 + x]!++;
      }
      imageStitch.add(tile, tile.image);
      labelStitch.add(tile, tile.label!);
    }
    assert(coverage.every((count) => count === 1), "every pixel is owned by exactly one tile");
    assert(imageStitch.complete && labelStitch.complete);
    assertEquals(imageStitch.output, image.data);
    assertEquals(labelStitch.output, label.data);
  });
}

Deno.test("planTiles() uses a single row when only the width exceeds S", () => {
  const tiles = planTiles(2500, 600, { size: 1024 });
  assertEquals(tiles.map((t) => [t.x, t.y, t.validWidth, t.validHeight]), [
    [0, 0, 1024, 600],
    [1024, 0, 1024, 600],
    [2048, 0, 452, 600],
  ]);
});

Deno.test("planTiles() rejects bad sizes and overlaps", () => {
  assertThrows(() => planTiles(10, 10, { size: 0 }), /Tile size must be a positive integer, got 0/);
  assertThrows(
    () => planTiles(10, 10, { size: 8, overlap: 8 }),
    /overlap must be an integer in \[0, 8\), got 8/,
  );
});

Deno.test("cutTiles() resizes a small image (longest side to S, floor(side*scale+0.5)) and pads", async () => {
  const image = randomRaster(200, 150, 3);
  const label = randomRaster(200, 150, 1, 3);
  label.data[0] = 255;
  const [tile, ...rest] = await collect(image, label, 256);
  assertEquals(rest.length, 0);
  assertEquals([tile!.scale, tile!.validWidth, tile!.validHeight], [1.28, 256, 192]);
  assertEquals(tile!.own, { x: 0, y: 0, width: 200, height: 150 });
  const resized = await resizeImage(image, 192, 256);
  for (let y = 0; y < 256; y++) {
    const row = tile!.image.subarray(y * 256 * 3, (y + 1) * 256 * 3);
    if (y < 192) assertEquals(row, resized.data.subarray(y * 256 * 3, (y + 1) * 256 * 3));
    else assert(row.every((v) => v === 0), `image padding row ${y} is 0`);
    const labelRow = tile!.label!.subarray(y * 256, (y + 1) * 256);
    if (y >= 192) assert(labelRow.every((v) => v === 255), `label padding row ${y} is 255`);
  }
  // Nearest neighbour: the tile's label at (x, y) is the source label at the pixel whose area
  // holds the tile pixel's centre.
  for (let y = 0; y < 192; y += 3) {
    for (let x = 0; x < 256; x += 3) {
      const sx = Math.floor(((x + 0.5) * 200) / 256);
      const sy = Math.floor(((y + 0.5) * 150) / 192);
      assertEquals(tile!.label![y * 256 + x], label.data[sy * 200 + sx]);
    }
  }
});

Deno.test("cutTiles() never interpolates labels", async () => {
  const values = [0, 3, 7, 255];
  const label = randomRaster(37, 23, 1, 4);
  label.data.forEach((v, i) => (label.data[i] = values[v]!));
  const image = randomRaster(37, 23, 3);
  for (const size of [128, 100, 30]) {
    for (const tile of await collect(image, label, size, size > 64 ? 0 : 7)) {
      assert(tile.label!.every((v) => values.includes(v)), `S=${size}: only 0, 3, 7 and 255`);
    }
  }
});

Deno.test("TileStitcher resizes a resized image's prediction back to the source size", async () => {
  const image = randomRaster(120, 80, 3);
  const [tile] = await collect(image, null, 128);
  const prediction = new Uint8Array(128 * 128).fill(9);
  for (let i = 0; i < prediction.length; i++) if (i % 128 < 64) prediction[i] = 2;
  const stitch = new TileStitcher(new Uint8Array(120 * 80), { width: 120, height: 80 });
  stitch.add(tile!, prediction);
  assert(stitch.complete);
  // Tile columns < 64 are source columns < 60 (scale 128 / 120).
  assertEquals(stitch.output[59], 2);
  assertEquals(stitch.output[60], 9);
  const scores = new TileStitcher(new Float32Array(120 * 80 * 2), {
    width: 120,
    height: 80,
    channels: 2,
  });
  scores.add(tile!, new Float32Array(128 * 128 * 2).fill(0.5));
  assert(scores.output.every((v) => v === 0.5));
});
