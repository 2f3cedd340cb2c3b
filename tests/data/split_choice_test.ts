/**
 * The split a command takes when none is named, on every layout: datasets with train/val, with
 * train/val/test and with train only, made in temp dirs.
 */
import {
  rejects as assertRejects,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { loadDetectionSplit } from "../../lib/data/detection_layout.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { defaultSplit, describeSplit, isTrainingSplit } from "../../lib/data/split_choice.ts";
import { writeFair1mSplit } from "./_fair1m.ts";

const layouts = {
  "train/val": ["train", "val"],
  "train/val/test": ["test", "train", "val"],
  "train only": ["train"],
} as const;

Deno.test("defaultSplit: test, else the one evaluation split, else an error listing the splits", () => {
  assertEquals(defaultSplit(["train", "val"], "evaluate", "ds"), "val");
  assertEquals(defaultSplit(["test", "train", "val"], "evaluate", "ds"), "test");
  assertEquals(defaultSplit(["val"], "evaluate", "ds"), "val");
  assertEquals(defaultSplit(["trainval", "validation"], "evaluate", "ds"), "validation");
  assertThrows(() => defaultSplit(["train"], "evaluate", 'Cannot read dataset "ds"'), {
    message:
      'Cannot read dataset "ds": no evaluation split, only training data (found: train); name it with --split to score on it',
  });
  assertThrows(
    () => defaultSplit(["train", "val", "val2"], "evaluate", "ds"),
    /^Error: ds: no "test" split and several others \(found: train, val, val2\); name one with --split$/,
  );
  assertEquals(defaultSplit(["test", "train"], "train", "ds"), "train");
  assertThrows(
    () => defaultSplit(["test"], "train", "ds"),
    /^Error: ds: no "train" split to train on \(found: test\); name one with --split$/,
  );
  assertEquals(isTrainingSplit("train_extra"), true);
  assertEquals(isTrainingSplit("test"), false);
  assertEquals(
    describeSplit("d", "val", false, "evaluate"),
    'mopeft: split "val" of "d" (the data\'s evaluation split: no "test"; name another with --split)',
  );
  assertEquals(describeSplit("d", "train", true, "evaluate"), 'mopeft: split "train" of "d"');
});

async function semanticDataset(root: string, splits: readonly string[]): Promise<void> {
  await Deno.writeTextFile(`${root}/classes.json`, '["background", "thing"]');
  for (const split of splits) {
    await Deno.mkdir(`${root}/images_detectron2/${split}`, { recursive: true });
    await Deno.mkdir(`${root}/annotations_detectron2/${split}`, { recursive: true });
  }
}

async function cocoDataset(root: string, splits: readonly string[]): Promise<void> {
  await Deno.mkdir(`${root}/annotations`, { recursive: true });
  for (const split of splits) {
    await Deno.mkdir(`${root}/images/${split}`, { recursive: true });
    await Deno.writeTextFile(`${root}/images/${split}/${split}.png`, "");
    await Deno.writeTextFile(
      `${root}/annotations/instances_${split}.json`,
      JSON.stringify({
        images: [{ id: 1, file_name: `${split}.png`, width: 8, height: 8 }],
        annotations: [],
        categories: [{ id: 1, name: "thing" }],
      }),
    );
  }
}

async function fair1mDataset(root: string, splits: readonly string[]): Promise<void> {
  for (const split of splits) await writeFair1mSplit(root, split, ["Bus"]);
}

Deno.test("resolveDataset: semantic datasets take test, else val, never train unless named", async () => {
  const expected = { "train/val": "val", "train/val/test": "test", "train only": null };
  for (const [name, splits] of Object.entries(layouts)) {
    const root = await Deno.makeTempDir({ prefix: "mopeft_split_semantic_" });
    await semanticDataset(root, splits);
    const want = expected[name as keyof typeof expected];
    if (want === null) {
      await assertRejects(resolveDataset({ data: root }), {
        message:
          `Cannot read dataset "${root}": no evaluation split, only training data (found: train); name it with --split to score on it`,
      });
    } else {
      assertEquals((await resolveDataset({ data: root })).split, want, name);
    }
    assertEquals((await resolveDataset({ data: root, purpose: "train" })).split, "train", name);
    assertEquals((await resolveDataset({ data: root, split: "train" })).split, "train", name);
    await Deno.remove(root, { recursive: true });
  }
  // A MESS dataset's splits are its registry entry's: BDD100K has val only, MHP v1 all three.
  const mess = await Deno.makeTempDir({ prefix: "mopeft_split_mess_" });
  await Deno.mkdir(`${mess}/bdd100k`);
  await Deno.mkdir(`${mess}/LV-MHP-v1`);
  assertEquals((await resolveDataset({ dataset: "bdd100k", root: mess })).split, "val");
  assertEquals((await resolveDataset({ dataset: "mhp_v1", root: mess })).split, "test");
  await assertRejects(resolveDataset({ dataset: "bdd100k", root: mess, purpose: "train" }), {
    message:
      `Cannot read dataset "${mess}/bdd100k": no "train" split to train on (found: val); name one with --split`,
  });
  await Deno.remove(mess, { recursive: true });
});

Deno.test("loadDetectionSplit: COCO and FAIR-1M folders take test, else val, never train unless named", async () => {
  const expected = { "train/val": "val", "train/val/test": "test", "train only": null };
  for (const [make, what] of [[cocoDataset, "COCO"], [fair1mDataset, "FAIR-1M"]] as const) {
    for (const [name, splits] of Object.entries(layouts)) {
      const root = await Deno.makeTempDir({ prefix: "mopeft_split_detection_" });
      await make(root, splits);
      const want = expected[name as keyof typeof expected];
      if (want === null) {
        await assertRejects(loadDetectionSplit({ data: root }), {
          message:
            `Cannot read ${what} dataset "${root}": no evaluation split, only training data (found: train); name it with --split to score on it`,
        });
      } else {
        assertEquals((await loadDetectionSplit({ data: root })).split, want, `${what} ${name}`);
      }
      assertEquals((await loadDetectionSplit({ data: root, purpose: "train" })).split, "train");
      assertEquals((await loadDetectionSplit({ data: root, split: "train" })).split, "train");
      await Deno.remove(root, { recursive: true });
    }
  }
});
