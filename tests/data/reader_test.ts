import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import sharp from "sharp";
import { SegmentationReader } from "../../lib/data/reader.ts";
import type { SampleTile } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import type { SkippedFile } from "../../lib/data/split.ts";
import { encodeLabelPng } from "../../lib/image/label_png.ts";

const FIXTURE = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;

async function drain<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A user dataset with `count` good 40x30 images in split "train". */
async function makeDataset(count: number): Promise<string> {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/images_detectron2/train`, { recursive: true });
  await Deno.mkdir(`${root}/annotations_detectron2/train`, { recursive: true });
  await Deno.writeTextFile(`${root}/classes.json`, JSON.stringify(["a", "b", "c"]));
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8Array(40 * 30 * 3).fill(40 * i);
    await sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).png()
      .toFile(`${root}/images_detectron2/train/im${i}.png`);
    await writeLabel(`${root}/annotations_detectron2/train/im${i}.png`, 40, 30, i % 3);
  }
  return root;
}

async function writeLabel(path: string, width: number, height: number, value: number) {
  await Deno.writeFile(
    path,
    await encodeLabelPng(new Uint8Array(width * height).fill(value), { width, height }),
  );
}

async function readerFor(
  root: string,
  options: { skipBad?: boolean; onSkip?: (s: SkippedFile) => void } = {},
) {
  const split = await loadSplit(await resolveDataset({ data: root, split: "train" }), options);
  return new SegmentationReader(split, { size: 64, ...options });
}

Deno.test("SegmentationReader reads the fixture train split as 128-pixel tiles", async () => {
  const split = await loadSplit(await resolveDataset({ data: FIXTURE, split: "train" }));
  assertEquals(split.pairs.length, 8);
  const reader = new SegmentationReader(split, { size: 128, seed: 5 });
  const batches = await drain(reader.batches(4));
  const tiles = batches.flat();
  // Images up to 128 on their longest side give one tile each, larger ones several.
  assert(tiles.length > split.pairs.length, "large fixture images are cut into several tiles");
  assert(batches.slice(0, -1).every((batch) => batch.length === 4));
  for (const tile of tiles) {
    assertEquals(tile.image.length, 128 * 128 * 3);
    assert(tile.label!.every((v) => v <= 2 || v === 255));
  }
  const perImage = new Map<string, SampleTile[]>();
  for (const tile of tiles) {
    perImage.set(tile.pair.stem, [...(perImage.get(tile.pair.stem) ?? []), tile]);
  }
  assertEquals(perImage.size, 8);
  for (const group of perImage.values()) assertEquals(group.length, group[0]!.count);
});

Deno.test("SegmentationReader shuffles files per epoch, reproducibly; sorted without a seed", async () => {
  const split = await loadSplit(await resolveDataset({ data: FIXTURE, split: "train" }));
  const stems = async (reader: SegmentationReader, epoch: number) =>
    (await drain(reader.samples(epoch))).map((sample) => sample.pair.stem);
  const seeded = new SegmentationReader(split, { size: 128, seed: 1 });
  const epoch0 = await stems(seeded, 0);
  assertEquals(epoch0, await stems(new SegmentationReader(split, { size: 128, seed: 1 }), 0));
  assertNotEquals(epoch0, await stems(seeded, 1));
  assertEquals([...epoch0].sort(), split.pairs.map((p) => p.stem));
  const sorted = await stems(new SegmentationReader(split, { size: 128 }), 3);
  assertEquals(sorted, split.pairs.map((p) => p.stem));
});

Deno.test("SegmentationReader: an unreadable or truncated image fails with a one-line message", async () => {
  const root = await makeDataset(3);
  const path = `${root}/images_detectron2/train/im1.png`;
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
  const error = await drain((await readerFor(root)).tiles()).then(() => null, (e: Error) => e);
  assert(error !== null);
  assert(error.message.startsWith(`Cannot read image "${path}": `), error.message);
  assert(!error.message.includes("\n"));
});

Deno.test("SegmentationReader: a label value that is not a class is named with its pixel count", async () => {
  const root = await makeDataset(2);
  const path = `${root}/annotations_detectron2/train/im0.png`;
  const label = new Uint8Array(40 * 30);
  label.fill(7, 0, 120);
  label.fill(255, 120, 130);
  await Deno.writeFile(path, await encodeLabelPng(label, { width: 40, height: 30 }));
  await assertRejects(drain((await readerFor(root)).samples()), {
    message:
      `Cannot read label "${path}": value 7 at 120 pixels is not a class (3 classes; 255 = ignore)`,
  });
});

Deno.test("SegmentationReader: an RGB label or a label of the wrong size is refused", async () => {
  const root = await makeDataset(2);
  const rgbPath = `${root}/annotations_detectron2/train/im0.png`;
  await sharp(new Uint8Array(40 * 30 * 3), { raw: { width: 40, height: 30, channels: 3 } }).png()
    .toFile(rgbPath);
  await assertRejects(drain((await readerFor(root)).samples()), {
    message:
      `Cannot read label "${rgbPath}": label PNG is RGB, expected a single-channel grey or palette PNG`,
  });
  await writeLabel(rgbPath, 41, 30, 0);
  await assertRejects(drain((await readerFor(root)).samples()), {
    message: `Cannot read label "${rgbPath}": it is 41x30, its image is 40x30`,
  });
});

Deno.test("SegmentationReader with skipBad skips and counts bad files, through a callback", async () => {
  const root = await makeDataset(4);
  await Deno.writeTextFile(`${root}/images_detectron2/train/im1.png`, "not an image");
  await Deno.remove(`${root}/annotations_detectron2/train/im2.png`);
  const reported: SkippedFile[] = [];
  const reader = await readerFor(root, { skipBad: true, onSkip: (s) => reported.push(s) });
  const samples = await drain(reader.samples());
  assertEquals(samples.map((s) => s.pair.stem), ["im0", "im3"]);
  assertEquals(reader.skipped.length, 2);
  assertEquals(reported.map((s) => s.path).sort(), [
    `${root}/images_detectron2/train/im1.png`,
    `${root}/images_detectron2/train/im2.png`,
  ]);
  // A second epoch does not count the same bad file twice.
  await drain(reader.samples(1));
  assertEquals(reader.skipped.length, 2);
});

Deno.test("SegmentationReader stops reading ahead when the consumer stops early", async () => {
  const root = await makeDataset(3);
  await Deno.writeTextFile(`${root}/images_detectron2/train/im1.png`, "broken");
  const reader = await readerFor(root);
  // The broken second file is already being read ahead when the loop breaks: no unhandled error.
  for await (const sample of reader.samples()) {
    assertEquals(sample.pair.stem, "im0");
    break;
  }
});
