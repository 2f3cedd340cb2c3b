/**
 * `mopeft export` through the command line: a semantic and a detection run exported and checked
 * in onnxruntime on an image, model.json's content, and bad input (a run made on another
 * checkpoint, an unknown opset, an --out that is a file, another image size) refused in one line
 * with nothing written. Also the library function with the weights in external data.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { checkExport, type ExportCheck } from "../../lib/export/check.ts";
import { exportRun } from "../../lib/export/export_run.ts";
import type { ExportManifest } from "../../lib/export/manifest.ts";
import { readLabelPng } from "../../lib/image/label_png.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { pathExists } from "../../lib/io/path_exists.ts";
import { loadBaseCheckpoint } from "../../lib/run/base_checkpoint.ts";
import { openRun } from "../../lib/run/open_run.ts";
import { savePeftRun } from "../../lib/peft/run_files.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { onBackend } from "../_backends.ts";
import { randomisedRun } from "./_export_helpers.ts";

await onBackend("cpu");

const TOLERANCE = 1e-4;
const image = new URL("../../fixtures/goldens/tiny_a_wide.png", import.meta.url).pathname;
const root = await Deno.makeTempDir({ prefix: "mopeft-export-" });
const checkpoint = `${root}/sam_a.safetensors`;
const otherCheckpoint = `${root}/sam_b.safetensors`;
const architecture = architectureOf(TINY_SIZE);
await writeSafetensors(checkpoint, randomSamTensors(architecture, 1));
await writeSafetensors(otherCheckpoint, randomSamTensors(architecture, 2));
const classNames = ["background", "road", "building"];

async function saveRun(dir: string, head?: { task: "detection"; queries: number }) {
  const base = await loadBaseCheckpoint(checkpoint);
  const model = randomisedRun(base.weights, "mopeft", 11, head);
  await savePeftRun(dir, model, { classNames, baseFingerprint: base.fingerprint });
  model.dispose();
  base.weights.dispose();
}
const semanticRun = `${root}/run_semantic`;
const detectionRun = `${root}/run_detection`;
await saveRun(semanticRun);
await saveRun(detectionRun, { task: "detection", queries: 6 });

/** `mopeft export --peft RUN --out OUT` on the test checkpoint (a later --checkpoint wins). */
function exportCli(run: string, out: string, ...extra: string[]) {
  return runCli(["export", "--checkpoint", checkpoint, "--peft", run, "--out", out, ...extra]);
}

function assertClose(check: ExportCheck) {
  const all = { ...check.encoder, ...check.head, ...check.decoder };
  for (const [name, diff] of Object.entries(all)) {
    assert(diff.maxRel <= TOLERANCE, `${name}: relative difference ${diff.maxRel}`);
  }
  assert(check.classMapsAgree, `class agreement ${check.classAgreement}`);
}

Deno.test("export cli: a semantic run's files, model.json and --check", async () => {
  const out = `${root}/export_semantic`;
  const result = await exportCli(semanticRun, out, "--check", image, "--quiet");
  assertEquals(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  assertEquals(
    printed.files.map((f: { name: string }) => f.name),
    ["decoder.onnx", "encoder.onnx", "head.onnx", "model.json"],
  );
  assertClose(printed.check);
  assertEquals(Object.keys(printed.check.head), ["logits"]);
  assertEquals(printed.check.inputSize, [128, 128]); // the first of its tiles
  const manifest: ExportManifest = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
  const base = await loadBaseCheckpoint(checkpoint);
  base.weights.dispose();
  assertEquals(manifest.baseCheckpoint.sha256, base.fingerprint.sha256);
  assertEquals(manifest.classNames, classNames);
  assertEquals(manifest.palette[0], [0, 0, 0]);
  assertEquals(manifest.palette.length, 3);
  assertEquals(manifest.run.method, "mopeft");
  assertEquals(manifest.run.config.loraRank, 2);
  assertEquals(manifest.opset, 17);
  assertEquals(manifest.preprocessing.longestSide, 128);
  assertEquals(manifest.preprocessing.mean, [123.675, 116.28, 103.53]);
  assertEquals(manifest.graphs.encoder.inputs[0]!.shape, [1, 3, 128, 128]);
  assertEquals(manifest.graphs.encoder.outputs[0]!.shape, [1, 32, 8, 8]);
  assertEquals(manifest.graphs.head.outputs[0]!.name, "logits");
  assertEquals(manifest.graphs.head.outputs[0]!.shape, [1, 3, 32, 32]);
  assertEquals(
    manifest.graphs.decoder.outputs.map((o) => o.name),
    ["masks", "iou_predictions", "low_res_masks"],
  );
  // A second export over the first replaces it.
  const again = await exportCli(semanticRun, out, "--quiet");
  assertEquals(again.code, 0, again.stderr);
});

Deno.test("export cli: a detection run's boxes and scores equal the tfjs model's", async () => {
  const out = `${root}/export_detection`;
  const result = await exportCli(detectionRun, out, "--check", image, "--quiet");
  assertEquals(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  assertEquals(printed.task, "detection");
  assertEquals(Object.keys(printed.check.head).sort(), ["boxes", "scores"]);
  assertEquals(printed.check.head.boxes.maxAbs, 0);
  assertClose(printed.check);
  const manifest: ExportManifest = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
  assertEquals(manifest.graphs.head.outputs.map((o) => [o.name, o.shape]), [
    ["boxes", [6, 4]],
    ["scores", [6, 3]],
  ]);
});

Deno.test("export cli: a run made on another checkpoint is refused, nothing written", async () => {
  const out = `${root}/export_refused`;
  const result = await exportCli(semanticRun, out, "--checkpoint", otherCheckpoint);
  assertOneLineError(
    result,
    1,
    /^mopeft: Cannot load PEFT run ".*": it was trained on checkpoint sha256 /,
  );
  assert(!(await pathExists(out)));
  const leftovers = [...Deno.readDirSync(root)].filter((e) => e.name.includes("export_refused"));
  assertEquals(leftovers, []);
});

Deno.test("export cli: an unknown --opset is refused, nothing written", async () => {
  const out = `${root}/export_opset`;
  const result = await exportCli(semanticRun, out, "--opset", "13");
  assertOneLineError(result, 1, /^mopeft: unsupported ONNX opset 13 \(supported: 17-21\)$/);
  assert(!(await pathExists(out)));
});

Deno.test("export cli: an --out that is a file is refused and kept", async () => {
  const out = `${root}/a_file`;
  await Deno.writeTextFile(out, "keep me\n");
  const result = await exportCli(semanticRun, out);
  assertOneLineError(
    result,
    1,
    /^mopeft: Cannot export to ".*a_file": it is a file, not a folder$/,
  );
  assertEquals(await Deno.readTextFile(out), "keep me\n");
});

Deno.test("export cli: an --out folder holding other files is refused and kept", async () => {
  const out = `${root}/a_folder`;
  await Deno.mkdir(out);
  await Deno.writeTextFile(`${out}/notes.txt`, "mine\n");
  await Deno.writeTextFile(`${out}/model.json`, "{}\n");
  const result = await exportCli(semanticRun, out);
  assertOneLineError(
    result,
    1,
    /^mopeft: Cannot export to ".*a_folder": the folder holds files that are not an export's \(notes.txt\)$/,
  );
  assertEquals(await Deno.readTextFile(`${out}/notes.txt`), "mine\n");
  assertEquals(await Deno.readTextFile(`${out}/model.json`), "{}\n");
});

Deno.test("export cli: another --image-size is refused, nothing written", async () => {
  const out = `${root}/export_size`;
  const result = await exportCli(semanticRun, out, "--image-size", "256");
  assertOneLineError(
    result,
    1,
    /^mopeft: --image-size 256: this checkpoint's encoder takes 128 px/,
  );
  assert(!(await pathExists(out)));
  const leftovers = [...Deno.readDirSync(root)].filter((e) => e.name.includes("export_size"));
  assertEquals(leftovers, []);
});

Deno.test("export: the library function with the encoder's weights in external data", async () => {
  const out = `${root}/export_external`;
  const result = await exportRun({
    checkpoint,
    peft: semanticRun,
    out,
    externalDataAboveBytes: 0,
  });
  assert(result.files.some((f) => f.name === "encoder.onnx.data"));
  assertEquals(result.manifest.graphs.encoder.externalData, "encoder.onnx.data");
  const run = await openRun(checkpoint, semanticRun);
  try {
    assertClose(await checkExport(out, run, image));
  } finally {
    run.dispose();
  }
});

Deno.test("predict --onnx writes the class map predict writes with the tfjs model", async () => {
  const out = `${root}/export_predict`;
  const exported = await exportCli(semanticRun, out, "--quiet");
  assertEquals(exported.code, 0, exported.stderr);
  const viaTfjs = await runCli([
    "predict",
    "--checkpoint",
    checkpoint,
    "--peft",
    semanticRun,
    "--image",
    image,
    "--out",
    `${root}/predict_tfjs`,
    "--quiet",
  ]);
  assertEquals(viaTfjs.code, 0, viaTfjs.stderr);
  const viaOnnx = await runCli([
    "predict",
    "--onnx",
    out,
    "--image",
    image,
    "--out",
    `${root}/predict_onnx`,
    "--quiet",
  ]);
  assertEquals(viaOnnx.code, 0, viaOnnx.stderr);
  assertEquals(JSON.parse(viaOnnx.stdout).classNames, classNames);
  const [a, b] = await Promise.all([
    readLabelPng(`${root}/predict_tfjs/tiny_a_wide.png`),
    readLabelPng(`${root}/predict_onnx/tiny_a_wide.png`),
  ]);
  assertEquals([b.width, b.height], [256, 160]);
  const same = a.data.reduce((n, v, i) => n + (v === b.data[i] ? 1 : 0), 0);
  // Logits equal to about 1e-6; only a pixel whose two best classes tie that closely may differ.
  assert(
    same >= a.data.length * 0.999,
    `${a.data.length - same} of ${a.data.length} pixels differ`,
  );
  assert(new Set(a.data).size > 1, "the class map has one class only: the test shows too little");
});

Deno.test("predict --onnx refuses --checkpoint beside it and a detection export", async () => {
  const both = await runCli([
    "predict",
    "--onnx",
    root,
    "--checkpoint",
    checkpoint,
    "--image",
    image,
    "--out",
    `${root}/x`,
  ]);
  assertOneLineError(
    both,
    2,
    /^mopeft: predict takes --onnx DIR or --checkpoint and --peft, not both$/,
  );
  const detection = await runCli([
    "predict",
    "--onnx",
    `${root}/export_detection`,
    "--image",
    image,
    "--out",
    `${root}/x`,
  ]);
  assertOneLineError(
    detection,
    1,
    /^mopeft: Cannot predict with ONNX export ".*": it is a detection export/,
  );
});

Deno.test("export cli: an unreadable --check image is refused before anything is written", async () => {
  const out = `${root}/export_noimage`;
  const result = await exportCli(semanticRun, out, "--check", `${root}/missing.png`);
  assertOneLineError(result, 1, /^mopeft: Cannot read image ".*missing.png": file not found$/);
  assert(!(await pathExists(out)));
});

Deno.test("predict --onnx names a corrupt model file in one line", async () => {
  const out = `${root}/export_corrupt`;
  const exported = await exportCli(semanticRun, out, "--quiet");
  assertEquals(exported.code, 0, exported.stderr);
  await Deno.writeTextFile(`${out}/encoder.onnx`, "not a model\n");
  const result = await runCli(["predict", "--onnx", out, "--image", image, "--out", `${root}/y`]);
  assertOneLineError(result, 1, /^mopeft: Cannot load ONNX model ".*encoder.onnx": /);
});

Deno.test({
  name: "export cli: clean up",
  fn: async () => {
    await Deno.remove(root, { recursive: true });
  },
});
