/**
 * `mopeft web` writing its folder: what it holds, a bundle with none of the Deno-only code
 * (files, sharp, FFI, workers), and bad input refused in one line with nothing written.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { WASM_FILES } from "../../lib/web/build_site.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { makeFixture, runOnRun } from "./_fixture.ts";

const fixture = await makeFixture("mopeft_web_build_");
const { work, checkpoint, semanticRun } = fixture;

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("mopeft web writes the page, one bundle, tfjs's wasm files and the run's weights", async () => {
  const out = `${work}/site`;
  const result = await runCli([
    "web",
    "--checkpoint",
    checkpoint,
    "--peft",
    semanticRun,
    "--out",
    out,
  ]);
  assertEquals(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assertEquals(
    await listing(out),
    [
      "index.html",
      "mopeft.js",
      "site.json",
      ...WASM_FILES,
      "weights",
    ].sort(),
  );
  assertEquals(await listing(`${out}/weights`), [
    "checkpoint.safetensors",
    "peft.json",
    "peft.safetensors",
  ]);
  // The weights are the files as they are.
  assertEquals(
    await Deno.readFile(`${out}/weights/checkpoint.safetensors`),
    await Deno.readFile(checkpoint),
  );
  assertEquals(
    await Deno.readFile(`${out}/weights/peft.safetensors`),
    await Deno.readFile(`${semanticRun}/peft.safetensors`),
  );
  const weightBytes = (await Deno.stat(checkpoint)).size +
    (await Deno.stat(`${semanticRun}/peft.json`)).size +
    (await Deno.stat(`${semanticRun}/peft.safetensors`)).size;
  assertEquals(summary.weightBytes, weightBytes);
  assertEquals(JSON.parse(await Deno.readTextFile(`${out}/site.json`)).downloadBytes, weightBytes);
  assertEquals(summary.totalBytes, summary.weightBytes + summary.codeBytes);
  // The size line states what is in the folder.
  ok(/weights 0\.\d MB \(checkpoint and run as they are\), program \d\.\d MB/.test(result.stderr));
  // An earlier page is replaced whole.
  const again = await runOnRun("web", checkpoint, semanticRun, ["--out", out]);
  assertEquals(again.weightBytes, weightBytes);
  assertEquals((await listing(work)).filter((name) => name.startsWith(".site")), []);
});

Deno.test("the page's bundle holds the library's model code and none of its Deno-only code", async () => {
  const out = `${work}/site_bundle`;
  await runOnRun("web", checkpoint, semanticRun, ["--out", out]);
  const bundle = await Deno.readTextFile(`${out}/mopeft.js`);
  // From the library: predict's messages and the run checks.
  ok(bundle.includes("Cannot load PEFT run"));
  ok(bundle.includes("Predictor returned"));
  // Deno's APIs, the FFI BLAS, the kernel threads' workers, sharp. (tfjs's own wasm glue names
  // "worker_threads" for Node, behind its IS_NODE test: not ours, and never run in a browser.)
  for (
    const forbidden of [
      "Deno.",
      "node:",
      "sharp",
      "libvips",
      "dlopen",
      "cblas_sgemm",
      "MOPEFT_",
      "OPENBLAS",
      "workerData",
      "readTextFile",
    ]
  ) {
    ok(!bundle.includes(forbidden), `the bundle contains ${forbidden}`);
  }
  const html = await Deno.readTextFile(`${out}/index.html`);
  ok(html.includes('<script type="module" src="mopeft.js">'));
});

Deno.test("mopeft web: bad input is one line, exit 1, and nothing is written", async () => {
  const args = (extra: Record<string, string>) => {
    const options = {
      "--checkpoint": checkpoint,
      "--peft": semanticRun,
      "--out": `${work}/none`,
      ...extra,
    };
    return ["web", ...Object.entries(options).flat()];
  };
  assertOneLineError(
    await runCli(args({ "--checkpoint": `${work}/missing.safetensors` })),
    1,
    /missing\.safetensors.*file not found/,
  );
  assertOneLineError(
    await runCli(args({ "--checkpoint": fixture.otherCheckpoint })),
    1,
    /Cannot load PEFT run ".*run": it was trained on checkpoint sha256 .* but ".*sam_other\.safetensors" has/,
  );
  assertOneLineError(await runCli(args({ "--peft": `${work}/no_run` })), 1, /no_run.*peft\.json/);
  await Deno.writeTextFile(`${work}/a_file`, "keep me\n");
  assertOneLineError(
    await runCli(args({ "--out": `${work}/a_file` })),
    1,
    /Cannot write web folder ".*a_file": it is a file/,
  );
  assertEquals(await Deno.readTextFile(`${work}/a_file`), "keep me\n");
  await Deno.mkdir(`${work}/busy`);
  await Deno.writeTextFile(`${work}/busy/notes.txt`, "mine\n");
  assertOneLineError(
    await runCli(args({ "--out": `${work}/busy` })),
    1,
    /Cannot write web folder ".*busy": it holds other files/,
  );
  assertEquals(await listing(`${work}/busy`), ["notes.txt"]);
  assertEquals(
    (await listing(work)).filter((name) => name === "none" || name.startsWith(".")),
    [],
  );
});
