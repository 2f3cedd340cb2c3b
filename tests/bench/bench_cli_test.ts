import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { assertOneLineError, runCli } from "../_cli.ts";

const FAST = ["bench", "--size", "tiny", "--runs", "1", "--warmup", "0", "--backend", "cpu"];

Deno.test("mopeft bench prints the timings, memory and machine as JSON", async () => {
  const result = await runCli([...FAST, "--methods", "decoder,mopeft", "--no-torch"]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  for (const key of ["date", "machine", "model", "forward", "methods", "mopeftOverPlain"]) {
    ok(key in report, `missing "${key}"`);
  }
  ok(!Number.isNaN(Date.parse(report.date)));
  assertEquals(report.machine.backend, "cpu");
  assertEquals(typeof report.machine.backendNote, "string");
  ok(report.machine.cores >= 1);
  assertEquals(report.model.size, "tiny");
  assertEquals(report.model.imageSize, 128);
  assertEquals(report.batch, 1);
  for (const key of ["minMs", "medianMs", "maxMs", "peakRssMiB", "peakTensorMiB"]) {
    assertEquals(typeof report.forward[key], "number", key);
  }
  assertEquals(report.forward.samplesMs.length, 1);
  assertEquals(report.methods.map((m: { method: string }) => m.method), ["decoder", "mopeft"]);
  const [decoder, mopeft] = report.methods;
  assertEquals(decoder.forward, null);
  assertEquals(typeof mopeft.forward.overPlain, "number");
  assertEquals(report.mopeftOverPlain, mopeft.forward.overPlain);
  for (const method of report.methods) {
    assertEquals(typeof method.trainStep.medianMs, "number");
    ok(Number.isFinite(method.trainStep.loss));
    ok(method.trainableValues > 0);
  }
  ok(mopeft.trainableValues > decoder.trainableValues);
  assertEquals(report.torch, null);
  assertEquals(report.torchSkipped, "--no-torch");
  assertEquals(report.overTorch, null);
  ok(/forward plain run 1\/1/.test(result.stderr), result.stderr);
});

Deno.test("mopeft bench --image-size and --batch change the inputs", async () => {
  const result = await runCli([
    ...FAST,
    "--methods",
    "lora",
    "--image-size",
    "64",
    "--batch",
    "2",
    "--no-torch",
    "--quiet",
  ]);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stderr, "");
  const report = JSON.parse(result.stdout);
  assertEquals(report.model.imageSize, 64);
  assertEquals(report.batch, 2);
  assertEquals(report.mopeftOverPlain, null);
});

Deno.test("mopeft bench --torch fails in one line without the official code", async () => {
  const result = await runCli([...FAST, "--torch"], { MOPEFT_SAM_REPO: "/nonexistent" });
  assertOneLineError(result, 1, /^mopeft: Cannot run the PyTorch comparison: /);
});

Deno.test("mopeft bench --torch-python names the Python it runs", async () => {
  const samRepo = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${samRepo}/segment_anything`);
    const result = await runCli([
      ...FAST,
      "--torch",
      "--sam-repo",
      samRepo,
      "--torch-python",
      "/nonexistent/python3",
      "--torch-device",
      "cuda",
    ]);
    assertOneLineError(
      result,
      1,
      /^mopeft: Cannot run the PyTorch comparison: cannot run \/nonexistent\/python3$/,
    );
  } finally {
    await Deno.remove(samRepo, { recursive: true });
  }
});

Deno.test("mopeft bench gives one-line usage errors with exit code 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--size", "huge"], /--size: unknown size "huge" \(known: tiny, vit_b/],
    [["--image-size", "100"], /--image-size must be a multiple of 16, got 100/],
    [["--runs", "0"], /--runs must be an integer of at least 1, got "0"/],
    [["--warmup", "-1"], /--warmup must be an integer of at least 0, got "-1"/],
    [["--batch", "two"], /--batch must be an integer of at least 1, got "two"/],
    [["--methods", "decoder,nope"], /--methods: unknown method "nope"/],
    [["--checkpoint", "x.safetensors"], /--size and --checkpoint exclude each other/],
    [["--backend", "tpu"], /--backend/],
    [["--torch-device", "tpu"], /--torch-device/],
  ];
  for (const [extra, pattern] of cases) {
    assertOneLineError(await runCli([...FAST, ...extra]), 2, pattern);
  }
});

Deno.test("mopeft bench --profile adds each method's kernel and stage times", async () => {
  const result = await runCli([...FAST, "--methods", "lora", "--no-torch", "--profile"]);
  assertEquals(result.code, 0, result.stderr);
  const [lora] = JSON.parse(result.stdout).methods;
  const profile = lora.profile;
  assertEquals(profile.kernels.some((k: { kernel: string }) => k.kernel === "BatchMatMul"), true);
  assertEquals(profile.kernelMs <= profile.stepMs, true);
  // After the warm-up step measured the tapes, the tiny model's chain runs under one tape.
  assertEquals(profile.stages.map((s: { stage: string }) => s.stage), ["embed .. head"]);
});
