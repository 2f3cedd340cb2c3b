import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { verifySplit } from "../../lib/data/verify_split.ts";
import { readLabelPng, writeLabelPng } from "../../lib/image/label_png.ts";
import { copyTree } from "../_copy_tree.ts";

const source = new URL("../../fixtures/mess/synthetic-small", import.meta.url).pathname;

Deno.test("verifySplit passes a clean split through unchanged, reporting progress", async () => {
  const split = await loadSplit(await resolveDataset({ data: source, split: "train" }));
  const seen: number[] = [];
  const checked = await verifySplit(split, { onChecked: (n) => seen.push(n) });
  assertEquals(checked, split);
  assertEquals(seen, [1, 2, 3, 4]);
});

Deno.test("verifySplit names the first bad file, or drops every bad one under skipBad", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_verify_" });
  await copyTree(source, dir);
  const train = `${dir}/images_detectron2/train`;
  // A truncated JPEG, and a label that is one pixel narrower than its image.
  const jpeg = await Deno.readFile(`${train}/train_006_128x96.jpg`);
  await Deno.writeFile(`${train}/train_006_128x96.jpg`, jpeg.subarray(0, 400));
  const labelPath = `${dir}/annotations_detectron2/train/train_002_200x150.png`;
  const label = await readLabelPng(labelPath);
  const narrow = new Uint8Array((label.width - 1) * label.height);
  await writeLabelPng(labelPath, narrow, { width: label.width - 1, height: label.height });

  const split = await loadSplit(await resolveDataset({ data: dir, split: "train" }));
  await rejects(
    verifySplit(split),
    /^RangeError: Cannot read label ".*train_002_200x150\.png": it is 199x150, its image is 200x150$/,
  );
  const skipped: string[] = [];
  const kept = await verifySplit(split, { skipBad: true, onSkip: (s) => skipped.push(s.path) });
  assertEquals(kept.pairs.map((p) => p.stem), ["train_000_96x64", "train_005_160x120"]);
  assertEquals(skipped, [`${train}/train_002_200x150.png`, `${train}/train_006_128x96.jpg`]);
  ok(
    /premature end of JPEG|corrupt|truncated JPEG/i.test(kept.skipped[1]!.reason),
    kept.skipped[1]!.reason,
  );
  await Deno.remove(dir, { recursive: true });
});
