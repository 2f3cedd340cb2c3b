import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { cutTiles, type Tile } from "../../lib/data/tiler.ts";
import { normalizeAndPad } from "../../lib/encoder/preprocess.ts";
import { tilesToBatch } from "../../lib/train/tile_batch.ts";
import { onBackend, take } from "../_backends.ts";

await onBackend("cpu");

Deno.test("tilesToBatch() normalises like SAM and pads with 0 in normalised space", async () => {
  const image = {
    data: Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7) % 256),
    width: 40,
    height: 30,
    channels: 3,
  };
  const tiles: Tile[] = [];
  for await (const tile of cutTiles(image, null, { size: 32, overlap: 0 })) tiles.push(tile);
  assertEquals(tiles.length, 2);
  const { images, labels } = tilesToBatch(tiles);
  assertEquals(labels, null);
  const values = await take(images);
  // The right tile holds 8x30 pixels of content; SAM's own preprocessing of that crop must match.
  const right = tiles[1]!;
  const crop = new Uint8Array(right.validWidth * right.validHeight * 3);
  for (let y = 0; y < right.validHeight; y++) {
    for (let x = 0; x < right.validWidth; x++) {
      for (let c = 0; c < 3; c++) {
        crop[(y * right.validWidth + x) * 3 + c] = right.image[(y * 32 + x) * 3 + c]!;
      }
    }
  }
  const reference = await take(
    normalizeAndPad(
      { data: crop, width: right.validWidth, height: right.validHeight, channels: 3 },
      32,
    ),
  );
  assertEquals(Array.from(values.subarray(32 * 32 * 3)), Array.from(reference));
});
