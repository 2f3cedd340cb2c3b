/**
 * `mopeft study` end to end on the fixtures with the tiny SAM-shaped checkpoint: two datasets x
 * three methods (one an override), run as two concurrent shards; a rerun that trains nothing;
 * the report's cells equal each eval.json; a killed shard resumes; a failing cell does not stop
 * the others; plan, status; bad input.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { assertOneLineError, type CliResult, runCli } from "../_cli.ts";
import { copyTree } from "../_copy_tree.ts";
import { pathExists } from "../../lib/io/path_exists.ts";

const repoRoot = new URL("../../", import.meta.url).pathname;
const fixtures = `${repoRoot}fixtures/mess`;
const work = await Deno.makeTempDir({ prefix: "mopeft_study_" });
const checkpoint = `${work}/sam_tiny.safetensors`;
await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));

async function writeStudy(name: string, study: Record<string, unknown>): Promise<string> {
  const path = `${work}/${name}.json`;
  await Deno.writeTextFile(path, JSON.stringify(study));
  return path;
}

/** Runs `mopeft study ...` with no scheduler's shard variables (should the tests run inside one). */
function runStudyCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { ...NO_SCHEDULER, ...env });
}
const NO_SCHEDULER = { SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" };

function json(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
}

function spawnStudy(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "study", ...args],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
    env: NO_SCHEDULER,
  }).spawn();
}

async function finish(child: Deno.ChildProcess): Promise<CliResult> {
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

const mainStudy = await writeStudy("fixtures", {
  name: "fixtures",
  checkpoint: "sam_tiny.safetensors", // relative: resolved against the study file's folder
  datasets: [
    { name: "synthetic", data: `${fixtures}/synthetic` },
    { name: "synthetic-small", data: `${fixtures}/synthetic-small` },
  ],
  train: { steps: 2, "batch-size": 2, lr: 0.003, "log-every": 1 },
  eval: { split: "test" },
  methods: ["baseline", "lora", { name: "mopeft-r4", method: "mopeft", "lora-rank": 4 }],
  seeds: [0],
});
const mainOut = `${work}/out`;
const cellIds = ["synthetic", "synthetic-small"].flatMap((d) =>
  ["baseline", "lora", "mopeft-r4"].map((m) => `${d}/${m}/seed-0`)
);

Deno.test("study plan lists every cell of a fresh study, one command line each", async () => {
  const result = await runStudyCli(["study", "plan", mainStudy, "--out", `${work}/plan-only`]);
  assertEquals(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assertEquals(lines.map((line) => line.split(" --cell ")[1]), cellIds);
  ok(
    lines.every((line) => line.includes(" study run ") && line.includes(`--out ${work}/plan-only`)),
  );
});

Deno.test("two shards run the study between them; a rerun trains nothing; the report is the cells' eval.json", async () => {
  const shards = [0, 1].map((i) =>
    spawnStudy(["run", mainStudy, "--out", mainOut, "--shard", `${i}/2`])
  );
  const results = await Promise.all(shards.map(finish));
  for (const result of results) assertEquals(result.code, 0, result.stderr);
  const [first, second] = results.map(json) as Array<{ done: string[]; cells: number }>;
  assertEquals(first!.done, cellIds.filter((_, i) => i % 2 === 0));
  assertEquals(second!.done, cellIds.filter((_, i) => i % 2 === 1));
  // Progress names the cell, then passes the commands' own progress through.
  ok(results[0]!.stderr.includes("[1/3] synthetic/baseline/seed-0"), results[0]!.stderr);
  ok(/train: 2 steps in/.test(results[0]!.stderr));

  for (const id of cellIds) {
    const folder = `${mainOut}/cells/${id}`;
    const cell = JSON.parse(await Deno.readTextFile(`${folder}/cell.json`));
    assertEquals(cell.status, "done");
    ok(cell.commandLines.train.includes(" train --checkpoint "), cell.commandLines.train);
    ok(cell.commandLines.eval.endsWith(`> ${folder}/eval.json`));
    const gated = id.includes("mopeft");
    assertEquals(
      Object.keys(cell.stages).sort(),
      gated ? ["eval", "gates", "train"] : ["eval", "train"],
    );
    if (gated) {
      ok((await Deno.readTextFile(`${folder}/gates.svg`)).startsWith("<svg"));
      assertEquals(JSON.parse(await Deno.readTextFile(`${folder}/gates.json`)).modules, [
        "lora",
        "prefix",
        "adapter",
      ]);
    }
  }
  // The override reached its cell's command line; the baseline trained zero steps of `decoder`.
  const override = JSON.parse(
    await Deno.readTextFile(`${mainOut}/cells/synthetic/mopeft-r4/seed-0/cell.json`),
  );
  const args: string[] = override.commands.train;
  assertEquals(args[args.indexOf("--lora-rank") + 1], "4");
  const baseline = JSON.parse(
    await Deno.readTextFile(`${mainOut}/cells/synthetic/baseline/seed-0/cell.json`),
  );
  const baselineArgs: string[] = baseline.commands.train;
  assertEquals(baselineArgs[baselineArgs.indexOf("--method") + 1], "decoder");
  assertEquals(baselineArgs[baselineArgs.indexOf("--steps") + 1], "0");
  assertEquals(baseline.trainableParams, 0);

  // A rerun finds everything done: it trains nothing and touches no file.
  const weights = `${mainOut}/cells/synthetic/lora/seed-0/run/peft.safetensors`;
  const before = (await Deno.stat(weights)).mtime!.getTime();
  const rerun = await runStudyCli(["study", "run", mainStudy, "--out", mainOut]);
  assertEquals(rerun.code, 0, rerun.stderr);
  const summary = json(rerun) as { done: string[]; alreadyDone: string[] };
  assertEquals(summary.done, []);
  assertEquals(summary.alreadyDone, cellIds);
  ok(!rerun.stderr.includes("  train"), rerun.stderr);
  assertEquals((await Deno.stat(weights)).mtime!.getTime(), before);

  // A scheduler's environment picks the shard: Slurm's array variables, or a Kubernetes Indexed
  // Job's index with --shards.
  const slurm = json(
    await runStudyCli(["study", "run", mainStudy, "--out", mainOut, "--quiet"], {
      SLURM_ARRAY_TASK_ID: "1",
      SLURM_ARRAY_TASK_COUNT: "2",
    }),
  );
  assertEquals([slurm.shard, slurm.alreadyDone], ["1/2", cellIds.filter((_, i) => i % 2 === 1)]);
  const indexed = json(
    await runStudyCli(["study", "run", mainStudy, "--out", mainOut, "--shards", "3", "--quiet"], {
      JOB_COMPLETION_INDEX: "2",
    }),
  );
  assertEquals([indexed.shard, indexed.alreadyDone], ["2/3", [cellIds[2], cellIds[5]]]);

  // The report's cells hold each eval.json's scores exactly.
  const report = json(
    await runStudyCli([
      "study",
      "report",
      mainOut,
      "--format",
      "json",
      "--svg",
      `${work}/bars.svg`,
    ]),
  );
  const cells = report.cells as Array<Record<string, unknown>>;
  assertEquals(cells.map((c) => `${c.dataset}/${c.method}/seed-${c.seed}`), cellIds);
  for (const cell of cells) {
    const id = `${cell.dataset}/${cell.method}/seed-${cell.seed}`;
    const scores = JSON.parse(await Deno.readTextFile(`${mainOut}/cells/${id}/eval.json`));
    for (const key of ["miou", "macc", "pacc", "fwiou"]) {
      assertEquals(cell[key], scores[key], `${id} ${key}`);
    }
    assertEquals(cell.secondsPerImage, scores.seconds / scores.images);
    assertEquals(cell.status, "done");
    if (cell.method !== "baseline") ok((cell.secondsPerStep as number) > 0);
  }
  // The results table's row for synthetic holds the same numbers, best marked.
  const table = (report.tables as {
    results: {
      groups: Array<
        { rows: Array<{ dataset: string; values: Array<{ mean: number }>; best: number[] }> }
      >;
    };
  }).results;
  const row = table.groups[0]!.rows[0]!;
  assertEquals(row.dataset, "synthetic");
  assertEquals(
    row.values.map((v) => v.mean),
    cells.slice(0, 3).map((c) => c.miou),
  );
  const best = Math.max(...cells.slice(0, 3).map((c) => c.miou as number));
  assertEquals(row.best, cells.slice(0, 3).flatMap((c, i) => c.miou === best ? [i] : []));
  ok((await Deno.readTextFile(`${work}/bars.svg`)).startsWith("<svg"));

  const markdown = await runStudyCli(["study", "report", mainOut]);
  assertEquals(markdown.code, 0);
  ok(
    markdown.stdout.includes("| Domain | Dataset | baseline | lora | mopeft-r4 |"),
    markdown.stdout,
  );
  const csv = await runStudyCli(["study", "report", mainOut, "--format", "csv"]);
  assertEquals(
    csv.stdout.split("\n")[0],
    "domain,dataset,baseline,baseline std,lora,lora std,mopeft-r4,mopeft-r4 std",
  );

  const status = json(await runStudyCli(["study", "status", mainOut]));
  assertEquals([status.total, status.done, status.failed, status.pending], [6, 6, 0, 0]);
  const plan = await runStudyCli(["study", "plan", mainStudy, "--out", mainOut]);
  assertEquals(plan.stdout, "");
  assertEquals(plan.stderr.trim(), "mopeft study: nothing to do: 6 cells, 6 done, 0 running");
});

// setsid (util-linux) puts the study and its children in one process group to kill together.
const hasSetsid = await new Deno.Command("sh", {
  args: ["-c", "command -v setsid"],
  stdout: "null",
})
  .output().then((r) => r.success, () => false);

/**
 * `study run STUDY --out OUT` under setsid: the study and its children in one process group, to
 * be killed together as a scheduler kills a job.
 */
function spawnStudyGroup(study: string, out: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "cli.ts", "study", "run", study, "--out", out, "--quiet"],
    cwd: repoRoot,
    stdout: "null",
    stderr: "null",
    env: NO_SCHEDULER,
  }).spawn();
}

/** Polls `ready` every 50 ms for at most a minute; a throw counts as not ready yet. */
async function pollUntil(ready: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name: "a killed study resumes: the stale lock is taken over and training continues",
  ignore: !hasSetsid,
}, async () => {
  const study = await writeStudy("killed", {
    name: "killed",
    checkpoint,
    datasets: [{ name: "synthetic", data: `${fixtures}/synthetic` }],
    train: { steps: 8, "batch-size": 2, lr: 0.003, "save-every": 1, "log-every": 1 },
    methods: ["mopeft"],
  });
  const out = `${work}/killed-out`;
  const cell = `${out}/cells/synthetic/mopeft/seed-0`;
  const child = spawnStudyGroup(study, out);
  await pollUntil(async () => {
    const state = JSON.parse(await Deno.readTextFile(`${cell}/run/checkpoint/state.json`));
    return state.step >= 2;
  });
  Deno.kill(-child.pid, "SIGKILL");
  await child.status;
  const lock = JSON.parse(await Deno.readTextFile(`${cell}/lock`));
  assertEquals(lock.pid, child.pid);
  const killed = JSON.parse(await Deno.readTextFile(`${cell}/cell.json`));
  assertEquals(killed.status, "running");
  const pending = json(await runStudyCli(["study", "status", out]));
  assertEquals([pending.done, pending.running, pending.pending], [0, 0, 1]);
  assertEquals(pending.interrupted, [
    { cell: "synthetic/mopeft/seed-0", stage: "train", then: "pending" },
  ]);
  const checkpointStep =
    JSON.parse(await Deno.readTextFile(`${cell}/run/checkpoint/state.json`)).step;

  const resumed = await runStudyCli(["study", "run", study, "--out", out]);
  assertEquals(resumed.code, 0, resumed.stderr);
  ok(resumed.stderr.includes("train (resuming the interrupted run)"), resumed.stderr);
  const record = JSON.parse(await Deno.readTextFile(`${cell}/cell.json`));
  assertEquals(record.status, "done");
  assertEquals(record.stages.train.resumed, true);
  // The interruption stays on record, with how the cell was taken up again.
  const after = json(await runStudyCli(["study", "status", out]));
  assertEquals(after.done, 1);
  const [entry, ...more] = after.interrupted as Record<string, unknown>[];
  assertEquals(more, []);
  const { at, ...rest } = entry!;
  assertEquals(rest, {
    cell: "synthetic/mopeft/seed-0",
    stage: "train",
    then: "resumed",
    fromStep: checkpointStep,
  });
  ok(typeof at === "string" && at >= killed.started, `taken up at ${at}`);
  ok(record.commands.train.includes("--resume"));
  const state = JSON.parse(await Deno.readTextFile(`${cell}/run/checkpoint/state.json`));
  assertEquals(state.step, 8);
  await Deno.stat(`${cell}/eval.json`);
  await Deno.stat(`${cell}/gates.svg`);
  ok(!(await pathExists(`${cell}/lock`)), "the lock is released");
});

Deno.test({
  name: "a cell killed before its first checkpoint is redone from scratch, and says so",
  ignore: !hasSetsid,
}, async () => {
  const study = await writeStudy("scratch", {
    name: "scratch",
    checkpoint,
    datasets: [{ name: "synthetic", data: `${fixtures}/synthetic` }],
    train: { steps: 30, "batch-size": 2, lr: 0.003, "log-every": 1, "save-every": 1000 },
    methods: ["lora"],
  });
  const out = `${work}/scratch-out`;
  const cell = `${out}/cells/synthetic/lora/seed-0`;
  const group = spawnStudyGroup(study, out);
  await pollUntil(() => pathExists(`${cell}/run/metrics.jsonl`));
  // Study and train killed together, as a scheduler kills a job: no checkpoint is written.
  Deno.kill(-group.pid, "SIGKILL");
  await group.status;
  ok(!(await pathExists(`${cell}/run/checkpoint/state.json`)), "no checkpoint yet");

  const redone = await runStudyCli(["study", "run", study, "--out", out]);
  assertEquals(redone.code, 0, redone.stderr);
  ok(
    redone.stderr.includes(
      "train (interrupted before; redone from scratch: the interrupted run left no checkpoint)",
    ),
    redone.stderr,
  );
  const status = json(await runStudyCli(["study", "status", out]));
  assertEquals(status.done, 1);
  assertEquals(
    (status.interrupted as Record<string, unknown>[]).map(({ at: _at, ...rest }) => rest),
    [{ cell: "synthetic/lora/seed-0", stage: "train", then: "redone", why: "no checkpoint" }],
  );
  const record = JSON.parse(await Deno.readTextFile(`${cell}/cell.json`));
  assertEquals(record.stages.train.resumed, false);
  ok(record.commands.train.includes("--force"), record.commandLines.train);
});

/** True while `pid` runs (a zombie, ended but not reaped, counts as gone). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "a study killed alone (SIGKILL) takes its train child with it, checkpoint saved; the resumed cell ends as an uninterrupted one",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const orphanStudy = (name: string) =>
    writeStudy(name, {
      name: "orphan",
      checkpoint,
      datasets: [{ name: "synthetic", data: `${fixtures}/synthetic` }],
      // No periodic checkpoint: the one the resumed run starts from is the child's own, saved as
      // it stops on seeing its parent gone.
      train: { steps: 40, "batch-size": 2, lr: 0.003, "log-every": 1, "save-every": 1000 },
      eval: { split: "test" },
      methods: ["lora"],
    });
  const study = await orphanStudy("orphan");
  const out = `${work}/orphan-out`;
  const cell = `${out}/cells/synthetic/lora/seed-0`;
  const parent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "study", "run", study, "--out", out, "--quiet"],
    cwd: repoRoot,
    stdout: "null",
    stderr: "null",
    env: NO_SCHEDULER,
  }).spawn();
  // Kill the study alone once its train child has logged two steps.
  let trainPid: number | undefined;
  for (let i = 0; i < 1200 && trainPid === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lock = await Deno.readTextFile(`${cell}/lock`).then(JSON.parse, () => null);
    const steps = await Deno.readTextFile(`${cell}/run/metrics.jsonl`)
      .then((text) => text.trim().split("\n").length, () => 0);
    if (lock?.child && steps >= 2) trainPid = lock.child;
  }
  ok(trainPid, "the lock names the train child");
  Deno.kill(parent.pid, "SIGKILL");
  await parent.status;
  const killedAt = performance.now();
  while (await running(trainPid) && performance.now() - killedAt < 20_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (performance.now() - killedAt) / 1000;
  ok(!(await running(trainPid)), `train child ${trainPid} still runs ${seconds} s after its study`);
  ok(seconds < 10, `the child took ${seconds} s to end`);
  const state = JSON.parse(await Deno.readTextFile(`${cell}/run/checkpoint/state.json`));
  ok(state.step >= 2 && state.step < 40, `checkpoint at step ${state.step}`);
  // Holder and child gone: the cell is pending, and listed as interrupted in training.
  const pending = json(await runStudyCli(["study", "status", out]));
  assertEquals([pending.done, pending.running, pending.pending], [0, 0, 1]);

  const resumed = await runStudyCli(["study", "run", study, "--out", out, "--quiet"]);
  assertEquals(resumed.code, 0, resumed.stderr);
  const record = JSON.parse(await Deno.readTextFile(`${cell}/cell.json`));
  assertEquals([record.status, record.stages.train.resumed], ["done", true]);

  // The same study without the kill.
  const straightOut = `${work}/orphan-straight`;
  const straight = await runStudyCli(["study", "run", study, "--out", straightOut, "--quiet"]);
  assertEquals(straight.code, 0, straight.stderr);
  const straightCell = `${straightOut}/cells/synthetic/lora/seed-0`;
  const scores = async (folder: string) => {
    const { seconds: _seconds, ...rest } = JSON.parse(
      await Deno.readTextFile(`${folder}/eval.json`),
    );
    return rest;
  };
  assertEquals(await scores(cell), await scores(straightCell));
  const a = await readSafetensors(`${straightCell}/run/peft.safetensors`);
  const b = await readSafetensors(`${cell}/run/peft.safetensors`);
  assertEquals([...b.keys()], [...a.keys()]);
  for (const [name, tensor] of a) assertEquals(b.get(name)!.data, tensor.data, name);
});

Deno.test("a failing cell is recorded with its one-line error and the others go on", async () => {
  const broken = `${work}/broken`;
  await copyTree(`${fixtures}/synthetic-small`, broken);
  const bad = `${broken}/images_detectron2/train/train_006_128x96.jpg`;
  const bytes = await Deno.readFile(bad);
  await Deno.writeFile(bad, bytes.subarray(0, 300)); // a truncated JPEG
  const study = await writeStudy("failing", {
    name: "failing",
    checkpoint,
    datasets: [{ name: "broken", data: broken }, {
      name: "good",
      data: `${fixtures}/synthetic-small`,
    }],
    train: { steps: 1, "batch-size": 2 },
    methods: ["decoder"],
  });
  const out = `${work}/failing-out`;
  const result = await runStudyCli(["study", "run", study, "--out", out, "--quiet"]);
  assertOneLineError(
    result,
    1,
    /1 cell failed \(first: broken\/decoder\/seed-0: Cannot read image ".*train_006_128x96\.jpg"/,
  );
  const summary = json(result) as {
    done: string[];
    failed: Array<{ cell: string; stage: string }>;
  };
  assertEquals(summary.done, ["good/decoder/seed-0"]);
  assertEquals(summary.failed.map((f) => [f.cell, f.stage]), [["broken/decoder/seed-0", "train"]]);
  const record = JSON.parse(
    await Deno.readTextFile(`${out}/cells/broken/decoder/seed-0/cell.json`),
  );
  assertEquals(record.status, "failed");
  ok(/^Cannot read image ".*train_006_128x96\.jpg": /.test(record.error), record.error);
  // No training step ran on the broken dataset: the check comes first.
  ok(!(await pathExists(`${out}/cells/broken/decoder/seed-0/run/peft.safetensors`)));
  const status = json(await runStudyCli(["study", "status", out]));
  assertEquals([status.done, status.failed], [1, 1]);
  assertEquals((status.failures as Array<{ cell: string }>)[0]!.cell, "broken/decoder/seed-0");
  // Repaired, the failed cell is redone and the study finishes.
  await Deno.writeFile(bad, bytes);
  const again = await runStudyCli(["study", "run", study, "--out", out, "--quiet"]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals((json(again) as { done: string[] }).done, ["broken/decoder/seed-0"]);
  // An edited study is refused in the same folder; with --force, the cells whose command lines
  // changed are redone and the unchanged ones kept.
  const edited = await writeStudy("failing", {
    ...JSON.parse(await Deno.readTextFile(study)),
    methods: ["decoder", { name: "decoder-3", method: "decoder", steps: 3 }],
  });
  assertOneLineError(
    await runStudyCli(["study", "run", edited, "--out", out, "--quiet"]),
    1,
    /holds study "failing" with other settings \("methods" differs\)/,
  );
  const forced = await runStudyCli(["study", "run", edited, "--out", out, "--quiet", "--force"]);
  assertEquals(forced.code, 0, forced.stderr);
  const after = json(forced) as { done: string[]; alreadyDone: string[] };
  assertEquals(after.alreadyDone, ["broken/decoder/seed-0", "good/decoder/seed-0"]);
  assertEquals(after.done, ["broken/decoder-3/seed-0", "good/decoder-3/seed-0"]);
  // A changed setting of finished cells: they are trained again, over their old run folders.
  const stepsChanged = await writeStudy("failing", {
    ...JSON.parse(await Deno.readTextFile(edited)),
    methods: [{ name: "decoder", method: "decoder", steps: 2 }],
  });
  const redone = await runStudyCli([
    "study",
    "run",
    stepsChanged,
    "--out",
    out,
    "--quiet",
    "--force",
  ]);
  assertEquals(redone.code, 0, redone.stderr);
  assertEquals((json(redone) as { done: string[] }).done, [
    "broken/decoder/seed-0",
    "good/decoder/seed-0",
  ]);
  const redoneCell = JSON.parse(
    await Deno.readTextFile(`${out}/cells/good/decoder/seed-0/cell.json`),
  );
  assertEquals(redoneCell.commands.train.slice(-3), ["--split", "train", "--force"]);
  const state = JSON.parse(
    await Deno.readTextFile(`${out}/cells/good/decoder/seed-0/run/checkpoint/state.json`),
  );
  assertEquals(state.step, 2);
});

Deno.test("study bad input: one line naming the file and the entry", async () => {
  const good = {
    name: "bad",
    checkpoint,
    datasets: [{ name: "synthetic", data: `${fixtures}/synthetic-small` }],
    train: { steps: 1 },
    methods: ["lora"],
  };
  const run = async (name: string, study: unknown, extra: string[] = []) =>
    await runStudyCli([
      "study",
      "run",
      await writeStudy(name, study as Record<string, unknown>),
      "--out",
      `${work}/bad-${name}`,
      ...extra,
    ]);
  assertOneLineError(
    await runStudyCli(["study", "run", `${work}/missing.json`, "--out", `${work}/x`]),
    1,
    /Cannot read study ".*missing\.json": file not found/,
  );
  assertOneLineError(
    await run("key", { ...good, epochs: 3 }),
    1,
    /study ".*key\.json": unknown key "epochs"/,
  );
  assertOneLineError(
    await run("id", { ...good, root: work, datasets: ["kvasir"] }),
    1,
    /datasets\[0\]: unknown dataset id "kvasir"/,
  );
  assertOneLineError(
    await run("folder", { ...good, datasets: [{ name: "nope", data: work }] }),
    1,
    /datasets\[0\] \("nope"\), split "train": Cannot read dataset ".*": not a MESS dataset folder and no classes\.json/,
  );
  assertOneLineError(
    await run("value", { ...good, train: { "batch-size": 0 } }),
    1,
    /train: "batch-size" expected a positive integer, got 0/,
  );
  assertOneLineError(
    await run("override", {
      ...good,
      methods: [{ name: "m", method: "mopeft", "lora-rank": "big" }],
    }),
    1,
    /methods\[0\] \("m"\): "lora-rank" expected a positive integer, got "big"/,
  );
  assertOneLineError(
    await run("owned", { ...good, train: { seed: 3 } }),
    1,
    /train: "seed" is set by the study for each cell/,
  );
  assertOneLineError(
    await run("method", { ...good, methods: ["lora", "sparse"] }),
    1,
    /methods\[1\]: unknown method "sparse"/,
  );
  assertOneLineError(await run("shard", good, ["--shard", "3/2"]), 2, /--shard/);
  // An --out that holds another study is refused unless --force.
  const out = `${work}/bad-taken`;
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(`${out}/study.json`, JSON.stringify({ name: "other" }));
  const taken = await runStudyCli(["study", "run", await writeStudy("taken", good), "--out", out]);
  assertOneLineError(
    taken,
    1,
    /Output folder ".*bad-taken" holds another study \("other"\); use another --out, or --force/,
  );
  assertOneLineError(
    await runStudyCli(["study", "run", `${work}/taken.json`, "--out", out, "--cell", "nothing"]),
    1,
    /Study "bad" has no cell "nothing" \(cells look like synthetic\/lora\/seed-0\)/,
  );
  const forced = await runStudyCli([
    "study",
    "run",
    `${work}/taken.json`,
    "--out",
    out,
    "--force",
    "--quiet",
  ]);
  assertEquals(forced.code, 0, forced.stderr);
  assertEquals(JSON.parse(await Deno.readTextFile(`${out}/study.json`)).name, "bad");
  assertOneLineError(
    await runStudyCli(["study", "status", `${work}/nowhere`]),
    1,
    /no study\.json/,
  );
});
