import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import { resolveDataset } from "../../lib/data/resolve.ts";

const FIXTURE = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;

Deno.test("resolveDataset() reads a user dataset folder with classes.json", async () => {
  const train = await resolveDataset({ data: FIXTURE, purpose: "train" });
  assertEquals([train.split, train.classNames, train.isMess], ["train", [
    "background",
    "disc",
    "bar",
  ], false]);
  // Unnamed, the split to evaluate on: test.
  const test = await resolveDataset({ data: FIXTURE + "/" });
  assertEquals(test.split, "test");
  assertEquals(test.imagesDir, `${FIXTURE}/images_detectron2/test`);
  assertEquals(test.labelsDir, `${FIXTURE}/annotations_detectron2/test`);
  await assertRejects(resolveDataset({ data: FIXTURE, split: "val" }), {
    message:
      `Cannot read dataset "${FIXTURE}": no split "val" in images_detectron2 (found: test, train)`,
  });
});

Deno.test("resolveDataset() recognises a MESS folder by name, or an id with --root", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/paxray_dataset`);
  await Deno.mkdir(`${root}/kvasir-instrument`);
  const byFolder = await resolveDataset({ data: `${root}/kvasir-instrument` });
  assertEquals([byFolder.id, byFolder.split, byFolder.isMess], ["kvasir_instrument", "test", true]);
  assertEquals(byFolder.imagesDir, `${root}/kvasir-instrument/images_detectron2/test`);
  const official = await resolveDataset({
    dataset: "kvasir_instrument",
    root,
    classNames: "official",
  });
  assertEquals(official.classNames, ["others", "surgical instrument"]);
  const paxray = await resolveDataset({ dataset: "paxray", root, variant: "mediastinum" });
  assertEquals(paxray.labelsDir, `${root}/paxray_dataset/annotations_detectron2/test/mediastinum`);
  assertEquals(paxray.classNames, ["others", "mediastinum"]);
  assertEquals((await resolveDataset({ dataset: "paxray", root })).variant, "lungs");
});

Deno.test("resolveDataset() names what is wrong", async () => {
  const root = await Deno.makeTempDir();
  await assertRejects(resolveDataset({ data: root }), {
    message: `Cannot read dataset "${root}": not a MESS dataset folder and no classes.json`,
  });
  await assertRejects(resolveDataset({ data: `${root}/missing` }), {
    message: `Cannot read dataset "${root}/missing": folder not found`,
  });
  await assertRejects(resolveDataset({ dataset: "cwfid", root }), {
    message: `Cannot read dataset "${root}/cwfid": folder not found`,
  });
  await assertRejects(
    resolveDataset({ dataset: "nope", root }),
    /^RangeError: Unknown dataset "nope"/,
  );
  await Deno.mkdir(`${root}/cwfid`);
  await assertRejects(resolveDataset({ dataset: "cwfid", root, split: "train" }), {
    message: 'Dataset "cwfid" has no split "train" (known: test)',
  });
  await Deno.writeTextFile(`${root}/classes.json`, '{"a": 1}');
  await assertRejects(resolveDataset({ data: root }), {
    message: `Cannot read class names "${root}/classes.json": expected a JSON array of class names`,
  });
});
