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
  // This checkout's commit (the tests run from one), dirty or not.
  ok(/^[0-9a-f]{7,}(-dirty)?$/.test(report.commit), report.commit);
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

/**
 * A stand-in for the Python that runs scripts/bench_torch.py: it "imports torch", logs each run's
 * input side and batch to `runs.log` beside it, and reports a peak RSS of `perSampleMiB` per
 * sample over 500 MiB fixed.
 */
async function fakeTorchPython(dir: string, perSampleMiB: number): Promise<string> {
  const python = `${dir}/python3`;
  const timing = '{"minMs":10,"medianMs":10,"maxMs":10,"samplesMs":[10]}';
  await Deno.writeTextFile(
    python,
    `#!/bin/sh
[ "$1" = "-c" ] && exit 0
size=0; batch=0
while [ $# -gt 0 ]; do
  case "$1" in --image-size) size=$2 ;; --batch) batch=$2 ;; esac
  shift
done
echo "$size $batch" >> "${dir}/runs.log"
echo '{"torch":"fake","threads":1,"imageSize":'$size',"batch":'$batch',"runs":1,"warmup":0,` +
      `"parameters":1,"device":"cpu","forward":${timing},"forwardBackwardFrozen":${timing},` +
      `"forwardBackwardFull":null,"loraStep":null,"loraStepTrainableValues":null,` +
      `"peakRssMiB":'$((500 + batch * ${perSampleMiB}))',"peakCudaMiB":null}'
`,
  );
  await Deno.chmod(python, 0o755);
  await Deno.mkdir(`${dir}/segment_anything`);
  return python;
}

Deno.test("mopeft bench estimates PyTorch's memory from small runs and skips a run that does not fit", async () => {
  for (const [perSampleMiB, fits] of [[2 ** 26, false], [1, true]] as const) {
    const dir = await Deno.makeTempDir();
    try {
      const python = await fakeTorchPython(dir, perSampleMiB);
      const result = await runCli([
        ...FAST,
        "--methods",
        "decoder",
        "--batch",
        "2",
        "--torch",
        "--sam-repo",
        dir,
        "--torch-python",
        python,
      ]);
      assertEquals(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      const runs = (await Deno.readTextFile(`${dir}/runs.log`)).trim().split("\n");
      // tiny is 128 px: probes at 64 px (batches 2 and 4) and, when its bound fits, 96 px; then
      // the run itself if it fits.
      assertEquals(runs, ["64 2", "64 4", ...(fits ? ["96 2", "128 2"] : [])]);
      assertEquals(report.torchMemory.fits, fits);
      assertEquals(report.torchMemory.batch, 2);
      assertEquals(report.torchMemory.fixedMiB, 500);
      assertEquals(typeof report.torchMemory.availableMiB, "number");
      if (fits) {
        assertEquals(report.torchSkipped, null);
        assertEquals(report.torch.batch, 2);
      } else {
        assertEquals(report.torch, null);
        ok(/^does not fit this machine's memory: needs about /.test(report.torchSkipped));
        ok(report.torchMemory.neededMiB > 2 ** 26, JSON.stringify(report.torchMemory));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
