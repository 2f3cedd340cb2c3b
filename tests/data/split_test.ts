import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";

async function userDataset(images: string[], labels: string[]): Promise<string> {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/images_detectron2/test`, { recursive: true });
  await Deno.mkdir(`${root}/annotations_detectron2/test`, { recursive: true });
  await Deno.writeTextFile(`${root}/classes.json`, '["a", "b"]');
  for (const name of images) {
    await Deno.writeFile(`${root}/images_detectron2/test/${name}`, new Uint8Array(0));
  }
  for (const name of labels) {
    await Deno.writeFile(`${root}/annotations_detectron2/test/${name}`, new Uint8Array(0));
  }
  return root;
}

Deno.test("loadSplit() names an empty split", async () => {
  const root = await userDataset([], []);
  await assertRejects(loadSplit(await resolveDataset({ data: root, split: "test" })), {
    message: `Cannot read dataset "${root}": no images in images_detectron2/test`,
  });
});

Deno.test("loadSplit() names an image without a label, or skips and counts it", async () => {
  const root = await userDataset(["a.jpg", "b.jpg"], ["a.png"]);
  const dataset = await resolveDataset({ data: root, split: "test" });
  await assertRejects(loadSplit(dataset), {
    message:
      `Cannot read image "${root}/images_detectron2/test/b.jpg": no label in annotations_detectron2/test`,
  });
  const seen: string[] = [];
  const split = await loadSplit(dataset, { skipBad: true, onSkip: (s) => seen.push(s.path) });
  assertEquals(split.pairs.map((p) => p.stem), ["a"]);
  assertEquals(split.skipped.length, 1);
  assertEquals(seen, [`${root}/images_detectron2/test/b.jpg`]);
});

Deno.test("loadSplit() carves a seeded hold-out: the two parts are disjoint and cover the split", async () => {
  const names = Array.from({ length: 10 }, (_, i) => `f${i}`);
  const root = await userDataset(names.map((n) => `${n}.png`), names.map((n) => `${n}.png`));
  const dataset = await resolveDataset({ data: root, split: "test" });
  const part = async (p: "train" | "heldOut") =>
    (await loadSplit(dataset, { holdout: { fraction: 0.3, seed: 4, part: p } })).pairs.map((x) =>
      x.stem
    );
  const train = await part("train");
  const heldOut = await part("heldOut");
  assertEquals(heldOut.length, 3);
  assertEquals([...train, ...heldOut].sort(), names);
  assertEquals(await part("heldOut"), heldOut);
});
