/**
 * The tool end to end on the synthetic fixtures with a small SAM-shaped checkpoint: train, eval,
 * shards, resume after a kill, inspect-gates, predict, summary, merge, and bad input.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { assertOneLineError, runCli, runCliJson } from "../_cli.ts";
import { copyTree } from "../_copy_tree.ts";

const data = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "mopeft_cli_" });
const checkpoint = `${work}/sam_tiny.safetensors`;
await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));
const common = ["--checkpoint", checkpoint, "--data", data, "--quiet"];

const json = runCliJson;

const trainArgs = (out: string, steps: number, extra: string[] = []) => [
  "train",
  ...common,
  "--out",
  out,
  "--steps",
  String(steps),
  "--batch-size",
  "4",
  "--lr",
  "3e-3",
  "--seed",
  "3",
  ...extra,
];

Deno.test("eval without --split: test, else the data's one evaluation split, never train", async () => {
  const run = `${work}/split_rule`;
  await json(trainArgs(run, 0, ["--method", "decoder"]));
  const small = new URL("../../fixtures/mess/synthetic-small", import.meta.url).pathname;
  const evalArgs = (
    dir: string,
  ) => ["eval", "--checkpoint", checkpoint, "--peft", run, "--data", dir];
  // train/test: test.
  const withTest = await runCli(evalArgs(small));
  assertEquals(withTest.code, 0, withTest.stderr);
  assertEquals([JSON.parse(withTest.stdout).split, JSON.parse(withTest.stdout).images], [
    "test",
    2,
  ]);
  ok(
    withTest.stderr.includes(
      `mopeft: split "test" of "${small}" (the test split; name another with --split)`,
    ),
    withTest.stderr,
  );
  // train/val: val.
  const dir = await Deno.makeTempDir({ prefix: "mopeft_cli_split_" });
  await copyTree(small, dir);
  await Deno.rename(`${dir}/images_detectron2/test`, `${dir}/images_detectron2/val`);
  await Deno.rename(`${dir}/annotations_detectron2/test`, `${dir}/annotations_detectron2/val`);
  const withVal = await runCli(evalArgs(dir));
  assertEquals(withVal.code, 0, withVal.stderr);
  assertEquals(JSON.parse(withVal.stdout).split, "val");
  ok(
    withVal.stderr.includes(
      `mopeft: split "val" of "${dir}" (the data's evaluation split: no "test"; name another with --split)`,
    ),
    withVal.stderr,
  );
  // train only: a one-line error listing the splits; named, train is scored.
  await Deno.remove(`${dir}/images_detectron2/val`, { recursive: true });
  assertOneLineError(
    await runCli(evalArgs(dir)),
    1,
    /^mopeft: Cannot read dataset ".*": no evaluation split, only training data \(found: train\); name it with --split to score on it$/,
  );
  assertEquals((await json([...evalArgs(dir), "--split", "train", "--quiet"])).images, 4);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train then eval scores higher than the untrained head", async () => {
  await json(trainArgs(`${work}/untrained`, 0, ["--method", "decoder"]));
  await json(trainArgs(`${work}/decoder`, 40, ["--method", "decoder"]));
  const before = await json(["eval", ...common, "--peft", `${work}/untrained`, "--split", "test"]);
  const after = await json(["eval", ...common, "--peft", `${work}/decoder`, "--split", "test"]);
  for (
    const field of [
      "dataset",
      "split",
      "method",
      "images",
      "tiles",
      "seconds",
      "classNames",
      "miou",
      "macc",
      "pacc",
      "fwiou",
      "iou",
      "confusion",
    ]
  ) {
    ok(field in after, `eval JSON lacks ${field}`);
  }
  assertEquals(after.images, 4);
  ok((after.miou as number) > (before.miou as number) + 5, `mIoU ${before.miou} -> ${after.miou}`);
  const metrics = (await Deno.readTextFile(`${work}/decoder/metrics.jsonl`)).trim().split("\n").map(
    (l) => JSON.parse(l),
  );
  assertEquals(Object.keys(metrics[0]).sort(), ["epoch", "loss", "lr", "seconds", "step"]);
  assertEquals(metrics.at(-1).step, 40);
});

Deno.test("eval shards merge into the whole split's scores", async () => {
  await json(trainArgs(`${work}/shards`, 2, ["--method", "lora"]));
  const whole = await json(["eval", ...common, "--peft", `${work}/shards`, "--split", "test"]);
  const parts = [];
  for (const shard of ["0/3", "1/3", "2/3"]) {
    const part = await json([
      "eval",
      ...common,
      "--peft",
      `${work}/shards`,
      "--split",
      "test",
      "--shard",
      shard,
    ]);
    await Deno.writeTextFile(`${work}/shard_${parts.length}.json`, JSON.stringify(part));
    parts.push(`${work}/shard_${parts.length}.json`);
  }
  const merged = await json(["merge-scores", ...parts]);
  assertEquals(merged.confusion, whole.confusion);
  assertEquals(merged.miou, whole.miou);
  assertEquals(merged.images, whole.images);
});

Deno.test("a killed run resumes from its checkpoint and ends with the same weights", async () => {
  const steps = 10;
  await json(trainArgs(`${work}/straight`, steps, ["--method", "mopeft", "--batch-size", "2"]));
  const out = `${work}/killed`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "cli.ts",
      ...trainArgs(out, steps, ["--method", "mopeft", "--batch-size", "2", "--save-every", "2"]),
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Kill it hard once a checkpoint exists (wherever it is by then).
  for (let i = 0; i < 600; i++) {
    try {
      await Deno.stat(`${out}/checkpoint/state.json`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  const state = JSON.parse(await Deno.readTextFile(`${out}/checkpoint/state.json`));
  ok(state.step >= 2 && state.step <= steps);
  // Not --quiet: its last progress line is checked.
  const run = await runCli([
    "train",
    ...common.filter((arg) => arg !== "--quiet"),
    "--out",
    out,
    "--resume",
    "--steps",
    String(steps),
  ]);
  assertEquals(run.code, 0, run.stderr);
  const resumed = JSON.parse(run.stdout);
  // The run's steps in all, and those this process ran.
  assertEquals([resumed.steps, resumed.stepsRun, resumed.resumedAt], [
    steps,
    steps - state.step,
    state.step,
  ]);
  const ran = steps - state.step;
  ok(
    new RegExp(
      `^train: ${ran} steps? in \\S+ \\([^)]+\\), resumed at step ${state.step} ` +
        `\\(run total ${steps}/${steps} steps\\)`,
      "m",
    ).test(run.stderr),
    run.stderr,
  );
  const a = await readSafetensors(`${work}/straight/peft.safetensors`);
  const b = await readSafetensors(`${out}/peft.safetensors`);
  assertEquals([...a.keys()], [...b.keys()]);
  for (const [name, tensor] of a) assertEquals(b.get(name)!.data, tensor.data, name);
  // metrics.jsonl holds each step once.
  const logged = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l).step
  );
  assertEquals(logged, [...new Set(logged)].sort((x, y) => x - y));
});

Deno.test("SIGTERM (a scheduler's time limit) stops a run cleanly: its step done, a checkpoint, exit 130", async () => {
  const steps = 200;
  const out = `${work}/terminated`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "cli.ts",
      ...trainArgs(out, steps, ["--method", "lora", "--batch-size", "2", "--save-every", "1"]),
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  for (let i = 0; i < 1200; i++) {
    try {
      await Deno.stat(`${out}/checkpoint/state.json`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGTERM");
  const status = await child.status;
  const message = await stderr;
  assertEquals(status.code, 130, message);
  ok(/interrupted/i.test(message), message);
  const state = JSON.parse(await Deno.readTextFile(`${out}/checkpoint/state.json`));
  ok(state.step >= 1 && state.step < steps, `stopped at step ${state.step}`);
});

Deno.test("inspect-gates counts add up to images x blocks per method, and draws an SVG", async () => {
  await json(trainArgs(`${work}/gates`, 2, ["--method", "mopeft"]));
  const report = await json([
    "inspect-gates",
    ...common,
    "--peft",
    `${work}/gates`,
    "--split",
    "test",
    "--svg",
    `${work}/gates.svg`,
  ]);
  assertEquals(report.modules, ["lora", "prefix", "adapter"]);
  const blocks = report.blocks as Array<
    { gates: Record<string, { calls: number; histogram: number[]; mean: number }> }
  >;
  assertEquals(blocks.length, TINY_SIZE.depth);
  for (const method of ["lora", "prefix", "adapter"]) {
    const perBlock = blocks.map((b) => b.gates[method]!);
    for (const gate of perBlock) {
      assertEquals(gate.histogram.reduce((x, y) => x + y, 0), report.images);
      ok(gate.mean > 0 && gate.mean < 1);
    }
    assertEquals(
      (report.calls as Record<string, number>)[method],
      perBlock.reduce((sum, g) => sum + g.calls, 0),
    );
  }
  ok((await Deno.readTextFile(`${work}/gates.svg`)).startsWith("<svg"));
  assertOneLineError(
    await runCli(["inspect-gates", ...common, "--peft", `${work}/shards`, "--split", "test"]),
    1,
    /method lora has no gates/,
  );
});

Deno.test("predict writes class maps at the image size, with colour maps and overlays", async () => {
  const image = `${data}/images_detectron2/test/test_011_300x180.png`;
  const out = `${work}/pred`;
  const result = await json([
    "predict",
    "--checkpoint",
    checkpoint,
    "--peft",
    `${work}/gates`,
    "--image",
    image,
    "--out",
    out,
    "--color",
    "--quiet",
  ]);
  assertEquals(result.images, 1);
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assertEquals(names, [
    "test_011_300x180.png",
    "test_011_300x180_color.png",
    "test_011_300x180_overlay.png",
  ]);
});

Deno.test("summary counts and merge of ungated LoRA", async () => {
  const summary = await json([
    "summary",
    "--checkpoint",
    checkpoint,
    "--method",
    "lora",
    "--lora-rank",
    "4",
  ]);
  // 4 blocks x (q and v) x (A [4, 32] + B [32, 4]).
  assertEquals((summary.byGroup as Record<string, number>).lora, 4 * 2 * 2 * 4 * 32);
  const merged = await json([
    "merge",
    "--checkpoint",
    checkpoint,
    "--peft",
    `${work}/shards`,
    "--out",
    `${work}/merged.safetensors`,
    "--quiet",
  ]);
  assertEquals(merged.mergedTensors, TINY_SIZE.depth);
  assertOneLineError(
    await runCli([
      "merge",
      "--checkpoint",
      checkpoint,
      "--peft",
      `${work}/gates`,
      "--out",
      `${work}/no.safetensors`,
    ]),
    1,
    /Cannot merge run .*gated LoRA/,
  );
});

Deno.test("bad input gives one-line errors and leaves no run folder behind", async () => {
  const out = `${work}/bad`;
  const train = (args: string[]) => runCli(["train", "--out", out, "--steps", "1", ...args]);
  assertOneLineError(
    await train(["--checkpoint", `${work}/none.safetensors`, "--data", data, "--method", "lora"]),
    1,
    /none\.safetensors.*not found/,
  );
  await Deno.writeTextFile(`${work}/corrupt.safetensors`, "garbage");
  assertOneLineError(
    await train([
      "--checkpoint",
      `${work}/corrupt.safetensors`,
      "--data",
      data,
      "--method",
      "lora",
    ]),
    1,
    /corrupt\.safetensors/,
  );
  assertOneLineError(await train([...common, "--method", "magic"]), 2, /--method/);
  assertOneLineError(
    await train([...common, "--method", "lora", "--lora-rank", "-3"]),
    2,
    /--lora-rank/,
  );
  assertOneLineError(await train([...common, "--method", "lora", "--lr", "fast"]), 2, /--lr/);
  await Deno.mkdir(`${work}/empty/images_detectron2/train`, { recursive: true });
  await Deno.mkdir(`${work}/empty/annotations_detectron2/train`, { recursive: true });
  await Deno.writeTextFile(`${work}/empty/classes.json`, '["a","b"]');
  assertOneLineError(
    await train(["--checkpoint", checkpoint, "--data", `${work}/empty`, "--method", "lora"]),
    1,
    /empty/,
  );
  let exists = true;
  await Deno.stat(out).catch(() => exists = false);
  assertEquals(exists, false, "a failed run left its folder");

  assertOneLineError(
    await runCli(trainArgs(`${work}/decoder`, 1, ["--method", "decoder"])),
    2,
    /already holds a run/,
  );
  assertOneLineError(await runCli(["eval", ...common, "--split", "test"]), 2, /needs --peft/);

  // A run made for another base checkpoint is refused.
  const other = `${work}/other.safetensors`;
  await writeSafetensors(other, randomSamTensors(architectureOf(TINY_SIZE), 8));
  assertOneLineError(
    await runCli([
      "eval",
      "--checkpoint",
      other,
      "--data",
      data,
      "--peft",
      `${work}/decoder`,
      "--split",
      "test",
    ]),
    1,
    /Cannot load PEFT run .*trained on checkpoint sha256/,
  );
});
