/**
 * Detection end to end on the committed COCO-layout fixtures with a small SAM-shaped checkpoint:
 * train (the task from the layout), resume, eval with shards, predict, inspect-gates, summary,
 * and the errors for a run given a dataset of the other task.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { assertOneLineError, runCli, runCliJson } from "../_cli.ts";

const data = new URL("../../fixtures/detection", import.meta.url).pathname;
const semanticData = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "mopeft_detection_cli_" });
const checkpoint = `${work}/sam_tiny.safetensors`;
await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));
const common = ["--checkpoint", checkpoint, "--quiet"];

const json = runCliJson;

const trainArgs = (out: string, steps: number, extra: string[] = []) => [
  "train",
  ...common,
  "--data",
  data,
  "--out",
  out,
  "--steps",
  String(steps),
  "--batch-size",
  "2",
  "--queries",
  "6",
  "--lr",
  "3e-3",
  "--seed",
  "3",
  ...extra,
];

Deno.test("detection: --holdout trains on part of a split, validates on the rest, and eval scores that rest", async () => {
  const out = `${work}/holdout`;
  const result = await json(
    trainArgs(out, 2, ["--method", "decoder", "--split", "train", "--holdout", "0.25"]),
  );
  assertEquals(result.task, "detection");
  const scores = await json([
    "eval",
    ...common,
    "--peft",
    out,
    "--data",
    data,
    "--split",
    "train",
    "--holdout",
    "0.25",
    "--seed",
    "3",
  ]);
  // 32 training images: 8 held out for evaluation, 24 trained on.
  assertEquals(scores.images, 8);
  const whole = await json(["eval", ...common, "--peft", out, "--data", data, "--split", "train"]);
  assertEquals(whole.images, 32);
});

Deno.test("detection: the run records its task; a stopped run resumes to the weights of a straight one", async () => {
  const straight = await json(trainArgs(`${work}/straight`, 4, ["--method", "mopeft"]));
  assertEquals(straight.task, "detection");
  const manifest = JSON.parse(await Deno.readTextFile(`${work}/straight/peft.json`));
  assertEquals(manifest.head, { task: "detection", queries: 6 });
  assertEquals(manifest.classNames, ["square", "disc", "triangle"]);
  // DOTA's tile rule by default; recorded, so that --resume keeps it.
  assertEquals(JSON.parse(await Deno.readTextFile(`${work}/straight/run.json`)).tileKeep, 0.7);
  await json(trainArgs(`${work}/resumed`, 2, ["--method", "mopeft", "--save-every", "1"]));
  const resumed = await json([
    "train",
    ...common,
    "--data",
    data,
    "--out",
    `${work}/resumed`,
    "--resume",
    "--steps",
    "4",
  ]);
  assertEquals(resumed.steps, 4);
  const a = await readSafetensors(`${work}/straight/peft.safetensors`);
  const b = await readSafetensors(`${work}/resumed/peft.safetensors`);
  assertEquals([...a.keys()], [...b.keys()]);
  ok(a.has("mask_decoder.class_head.layers.1.weight"));
  for (const [name, tensor] of a) assertEquals(b.get(name)!.data, tensor.data, name);
});

Deno.test("detection: validation AP50, eval JSON, shards merging into the whole, predict's COCO results and drawings, gates", async () => {
  const run = `${work}/eval_run`;
  await json(trainArgs(run, 2, ["--method", "mopeft", "--val-split", "val", "--val-every", "2"]));
  // Validation during training logs AP50 on the val split.
  const metrics = (await Deno.readTextFile(`${run}/metrics.jsonl`)).trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  assertEquals(metrics.at(-1).step, 2);
  ok(typeof metrics.at(-1).valAp50 === "number" && !("valMiou" in metrics.at(-1)));
  const evalArgs = ["eval", ...common, "--peft", run, "--data", data, "--split", "val"];
  const whole = await json(evalArgs);
  for (
    const field of [
      "ap",
      "ap50",
      "ap75",
      "apSmall",
      "apMedium",
      "apLarge",
      "ar100",
      "voc07Map50",
      "perClass",
      "categoryMeans",
      "categoryMeansAll",
    ]
  ) {
    ok(field in whole, `eval JSON lacks ${field}`);
  }
  assertEquals(whole.images, 8);
  assertEquals((whole.perClass as { name: string }[]).map((c) => c.name), [
    "square",
    "disc",
    "triangle",
  ]);
  const parts: string[] = [];
  for (const shard of ["0/2", "1/2"]) {
    const part = await json([...evalArgs, "--shard", shard]);
    assertEquals(part.images, 4); // half of the 8 val images
    parts.push(`${work}/part_${parts.length}.json`);
    await Deno.writeTextFile(parts.at(-1)!, JSON.stringify(part));
  }
  const merged = await json(["merge-scores", ...parts]);
  for (const field of ["ap", "ap50", "ap75", "ar100", "voc07Map50", "images"]) {
    assertEquals(merged[field], whole[field], field);
  }

  const out = `${work}/predicted`;
  const predicted = await json([
    "predict",
    ...common,
    "--peft",
    run,
    "--data",
    data,
    "--split",
    "val",
    "--out",
    out,
    "--color",
    "--min-score",
    "0",
  ]);
  const results = JSON.parse(await Deno.readTextFile(`${out}/detections.json`));
  ok(results.length > 0 && results.length <= 8 * 100);
  const ids = new Set(results.map((r: { image_id: number }) => r.image_id));
  const valImages = JSON.parse(
    await Deno.readTextFile(`${data}/annotations/instances_val.json`),
  ).images.map((image: { id: number }) => image.id);
  ok([...ids].every((id) => valImages.includes(id)), `image ids ${[...ids]} not in ${valImages}`);
  for (const r of results) {
    ok([1, 2, 3].includes(r.category_id) && r.bbox.length === 4 && r.score > 0 && r.score <= 1);
  }
  assertEquals((predicted.files as string[]).length, 8);
  // The results file scores as the eval did: same detections, same ground truth.
  const scored = await json([
    "score-detections",
    "--gt",
    `${data}/annotations/instances_val.json`,
    "--dets",
    `${out}/detections.json`,
  ]);
  assertEquals(scored.ap, whole.ap);
  assertEquals(scored.ap50, whole.ap50);

  // Without --split, eval, predict and score-detections take the evaluation split (val: the
  // data has no test), never train, and say so on stderr.
  const splitLine = `mopeft: split "val" of "${data}" (the data's evaluation split: no "test"; ` +
    "name another with --split)";
  const unnamed = await runCli(["eval", "--checkpoint", checkpoint, "--peft", run, "--data", data]);
  assertEquals(unnamed.code, 0, unnamed.stderr);
  assertEquals(JSON.parse(unnamed.stdout).split, "val");
  assertEquals(JSON.parse(unnamed.stdout).ap, whole.ap);
  ok(unnamed.stderr.split("\n").includes(splitLine), unnamed.stderr);
  const unnamedPredict = await runCli([
    "predict",
    "--checkpoint",
    checkpoint,
    "--peft",
    run,
    "--data",
    data,
    "--out",
    `${work}/predicted_unnamed`,
  ]);
  assertEquals(unnamedPredict.code, 0, unnamedPredict.stderr);
  assertEquals(
    await Deno.readTextFile(`${work}/predicted_unnamed/detections.json`),
    await Deno.readTextFile(`${out}/detections.json`),
  );
  ok(unnamedPredict.stderr.split("\n").includes(splitLine), unnamedPredict.stderr);
  const unnamedScore = await runCli([
    "score-detections",
    "--gt",
    data,
    "--dets",
    `${out}/detections.json`,
  ]);
  assertEquals(unnamedScore.code, 0, unnamedScore.stderr);
  assertEquals(JSON.parse(unnamedScore.stdout).ap, whole.ap);
  ok(unnamedScore.stderr.split("\n").includes(splitLine), unnamedScore.stderr);

  const gates = await json([
    "inspect-gates",
    ...common,
    "--peft",
    run,
    "--data",
    data,
    "--split",
    "val",
  ]);
  assertEquals(gates.images, 8);
  assertEquals(gates.method, "mopeft");
});

Deno.test("detection: summary counts the head; a run given the other task's dataset is a one-line error", async () => {
  const detection = await json([
    "summary",
    "--checkpoint",
    checkpoint,
    "--method",
    "lora",
    "--task",
    "detection",
    "--num-classes",
    "3",
    "--queries",
    "10",
  ]);
  const semantic = await json([
    "summary",
    "--checkpoint",
    checkpoint,
    "--method",
    "lora",
    "--num-classes",
    "3",
  ]);
  // Class MLP (32·32 + 32 + 4·32 + 4) and 10 queries instead of 3 class tokens (7 x 32), one
  // hypernetwork instead of three (2 x 2244).
  const decoder = (s: Record<string, unknown>) => (s.byGroup as Record<string, number>).decoder!;
  assertEquals(decoder(detection) - decoder(semantic), 1188 + 7 * 32 - 2 * 2244);

  await json(trainArgs(`${work}/for_errors`, 0, ["--method", "decoder"]));
  // The task and the queries from --config, as any train option.
  await Deno.writeTextFile(
    `${work}/config.json`,
    JSON.stringify({ task: "detection", queries: 3, method: "lora" }),
  );
  await json([
    "train",
    ...common,
    "--data",
    data,
    "--out",
    `${work}/configured`,
    "--steps",
    "0",
    "--config",
    `${work}/config.json`,
  ]);
  const configured = JSON.parse(await Deno.readTextFile(`${work}/configured/peft.json`));
  assertEquals([configured.method, configured.head], ["lora", { task: "detection", queries: 3 }]);
  await json([
    "train",
    ...common,
    "--data",
    semanticData,
    "--out",
    `${work}/semantic_run`,
    "--steps",
    "0",
    "--method",
    "decoder",
  ]);
  assertOneLineError(
    await runCli(["eval", ...common, "--peft", `${work}/semantic_run`, "--data", data]),
    1,
    /Cannot evaluate a semantic segmentation run on ".*fixtures\/detection": it is a COCO detection dataset/,
  );
  assertOneLineError(
    await runCli(["eval", ...common, "--peft", `${work}/for_errors`, "--data", semanticData]),
    1,
    /Cannot evaluate an object-detection run on ".*synthetic": it is a semantic segmentation dataset/,
  );
  assertOneLineError(
    await runCli([
      "train",
      ...common,
      "--data",
      data,
      "--task",
      "semantic",
      "--method",
      "decoder",
      "--out",
      `${work}/wrong_task`,
    ]),
    1,
    /Cannot train a semantic segmentation run on ".*fixtures\/detection": it is a COCO detection dataset/,
  );
  const tileKeep = (dataset: string, value: string) =>
    runCli([
      "train",
      ...common,
      "--data",
      dataset,
      "--method",
      "decoder",
      "--steps",
      "0",
      "--tile-keep",
      value,
      "--out",
      `${work}/tile_keep`,
      "--force",
    ]);
  assertOneLineError(await tileKeep(data, "1"), 2, /--tile-keep.*from 0 up to \(not including\) 1/);
  assertOneLineError(await tileKeep(semanticData, "0.5"), 2, /--tile-keep is for detection runs/);
  assertEquals((await tileKeep(data, "0.5")).code, 0);
  assertEquals(JSON.parse(await Deno.readTextFile(`${work}/tile_keep/run.json`)).tileKeep, 0.5);
});
