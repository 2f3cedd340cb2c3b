import { runCli } from "../_cli.ts";
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { encodeLabelPng } from "../../lib/image/label_png.ts";

function mopeft(...args: string[]) {
  return runCli(args);
}

function assertOneLineError(stderr: string, expected: string) {
  assertEquals(stderr, `mopeft: ${expected}\n`);
  assert(!stderr.includes("    at "), "no stack trace");
}

async function writePng(path: string, values: number[], width: number) {
  await Deno.writeFile(
    path,
    await encodeLabelPng(Uint8Array.from(values), { width, height: values.length / width }),
  );
}

/** gt/a.png, gt/b.png, and predictions for both, 2x2 each, 3 classes. */
async function scoreFolders() {
  const dir = await Deno.makeTempDir();
  for (const sub of ["gt", "pred", "predA", "predB"]) await Deno.mkdir(`${dir}/${sub}`);
  await writePng(`${dir}/gt/a.png`, [0, 1, 2, 255], 2);
  await writePng(`${dir}/gt/b.png`, [0, 0, 1, 1], 2);
  await writePng(`${dir}/pred/a.png`, [0, 1, 1, 2], 2);
  await writePng(`${dir}/pred/b.png`, [0, 2, 1, 1], 2);
  await Deno.writeTextFile(`${dir}/names.json`, '["bg", "disc", "bar"]');
  return dir;
}

Deno.test("mopeft score prints MESS scores as JSON", async () => {
  const dir = await scoreFolders();
  const result = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "3",
    "--class-names",
    `${dir}/names.json`,
  );
  assertEquals([result.code, result.stderr], [0, ""]);
  const report = JSON.parse(result.stdout);
  assertEquals(report.classNames, ["bg", "disc", "bar"]);
  assertEquals(report.images, 2);
  // pixels (pred, gt): a: (0,0) (1,1) (1,2); b: (0,0) (2,0) (1,1) (1,1)
  assertEquals(report.confusion, [[2, 0, 0], [0, 3, 1], [1, 0, 0]]);
  assertEquals(report.pacc, (100 * 5) / 7);
});

Deno.test("mopeft score: usage errors exit 2, file errors exit 1, one line each", async () => {
  const dir = await scoreFolders();
  const bad = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "2.5",
  );
  assertEquals(bad.code, 2);
  assertOneLineError(bad.stderr, '--num-classes must be an integer from 1 to 255, got "2.5"');
  await Deno.remove(`${dir}/pred/b.png`);
  const missing = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "3",
  );
  assertEquals(missing.code, 1);
  assertOneLineError(
    missing.stderr,
    `Cannot score "${dir}/gt/b.png": no prediction for it in "${dir}/pred"`,
  );
  await writePng(`${dir}/pred/b.png`, [0, 0, 0, 0, 0, 0], 3);
  const size = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "3",
  );
  assertEquals(size.code, 1);
  assertOneLineError(
    size.stderr,
    `Cannot score "${dir}/pred/b.png": it is 3x2, ground truth "${dir}/gt/b.png" is 2x2`,
  );
  const names = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "2",
    "--class-names",
    `${dir}/names.json`,
  );
  assertEquals(names.code, 1);
  assertOneLineError(
    names.stderr,
    `Cannot use class names "${dir}/names.json": 3 names, --num-classes is 2`,
  );
});

Deno.test("mopeft merge-scores sums shards into the whole", async () => {
  const dir = await scoreFolders();
  await Deno.rename(`${dir}/pred/a.png`, `${dir}/predA/a.png`);
  await Deno.rename(`${dir}/pred/b.png`, `${dir}/predB/b.png`);
  await Deno.mkdir(`${dir}/gtA`);
  await Deno.mkdir(`${dir}/gtB`);
  await Deno.copyFile(`${dir}/gt/a.png`, `${dir}/gtA/a.png`);
  await Deno.copyFile(`${dir}/gt/b.png`, `${dir}/gtB/b.png`);
  for (const part of ["A", "B"]) {
    const result = await mopeft(
      "score",
      "--pred",
      `${dir}/pred${part}`,
      "--gt",
      `${dir}/gt${part}`,
      "--num-classes",
      "3",
    );
    assertEquals(result.code, 0);
    await Deno.writeTextFile(`${dir}/${part}.json`, result.stdout);
  }
  await Deno.copyFile(`${dir}/predA/a.png`, `${dir}/pred/a.png`);
  await Deno.copyFile(`${dir}/predB/b.png`, `${dir}/pred/b.png`);
  const whole = await mopeft(
    "score",
    "--pred",
    `${dir}/pred`,
    "--gt",
    `${dir}/gt`,
    "--num-classes",
    "3",
  );
  const merged = await mopeft("merge-scores", `${dir}/A.json`, `${dir}/B.json`);
  assertEquals([merged.code, merged.stderr], [0, ""]);
  assertEquals(JSON.parse(merged.stdout), JSON.parse(whole.stdout));
  const notJson = await mopeft("merge-scores", `${dir}/A.json`, `${dir}/names.json`);
  assertEquals(notJson.code, 1);
  assertOneLineError(
    notJson.stderr,
    `Cannot read scores "${dir}/names.json": format is not "mopeft-scores-v1"`,
  );
  const none = await mopeft("merge-scores");
  assertEquals(none.code, 2);
});

Deno.test("mopeft datasets lists the 22 MESS datasets (JSON and table)", async () => {
  const json = await mopeft("datasets", "--json");
  assertEquals(json.code, 0);
  const rows = JSON.parse(json.stdout);
  assertEquals(rows.length, 22);
  assertEquals(rows.find((r: { id: string }) => r.id === "cub_200").numClasses, 201);
  const table = await mopeft("datasets");
  assertEquals(table.code, 0);
  assertEquals(table.stdout.trim().split("\n").length, 23);
  assert(table.stdout.includes("kvasir-instrument"));
});
