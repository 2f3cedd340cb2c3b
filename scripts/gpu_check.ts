/**
 * The GPU check's steps, run by `scripts/gpu_check.sh` once Deno, the npm files and the Vulkan
 * loader are in place (see that script for how they get there on a machine that reaches no
 * package registry). It runs the parity goldens and the fused attention kernels on `webgpu`, then
 * `mopeft bench` on `webgpu` with the PyTorch comparison on the GPU, each step a child process
 * under a time limit cut from one overall budget, and writes one JSON: the machine's facts and
 * every step's result. A step that fails or runs out of time is recorded and the next one runs.
 * The JSON is rewritten (atomically) after every step, so a check killed from outside still
 * leaves what it had.
 *
 * Settings come from the environment (gpu_check.sh sets them):
 * - `GPU_CHECK_SIZE`: `full` (vit_b, 1024 px, batch 1 and 4) or `tiny` (the tests' SAM-shaped
 *   model, 128 px, batch 1: a run of the whole check on a software adapter);
 * - `GPU_CHECK_OUT`: the JSON's path; `GPU_CHECK_BUDGET_S`: seconds for all steps;
 * - `GPU_CHECK_FACTS`: a file of `key<TAB>value` lines the shell gathered (bundle, loader, ICD);
 * - `GPU_CHECK_PYTHON`, `GPU_CHECK_SAM_REPO`, `GPU_CHECK_TORCH_DEVICE`: the PyTorch side.
 *
 * ```sh
 * GPU_CHECK_SIZE=tiny GPU_CHECK_OUT=/tmp/gpu_check.json deno run -A scripts/gpu_check.ts
 * ```
 *
 * @module
 */
import { benchSize } from "../lib/bench/bench_sizes.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";

const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();
const started = performance.now();

type Size = "full" | "tiny";
const size = (Deno.env.get("GPU_CHECK_SIZE") ?? "full") as Size;
if (size !== "full" && size !== "tiny") {
  console.error(`gpu_check: GPU_CHECK_SIZE must be full or tiny, got "${size}"`);
  Deno.exit(2);
}
const outPath = Deno.env.get("GPU_CHECK_OUT") ?? `${root}gpu_check.json`;
const budgetS = Number(Deno.env.get("GPU_CHECK_BUDGET_S") ?? (size === "full" ? 540 : 1800));
const python = Deno.env.get("GPU_CHECK_PYTHON") ?? "python3";
const samRepo = Deno.env.get("GPU_CHECK_SAM_REPO") ?? "";

/** One child process of the check. */
interface StepPlan {
  name: string;
  /** The program to run; default: this Deno. */
  program?: string;
  args: string[];
  env?: Record<string, string>;
  /** The most seconds this step may take when time is plentiful. */
  capS: number;
  /** `test`: deno test's counts; `bench`, `torch`: one JSON object on stdout. */
  kind: "test" | "bench" | "torch";
}

/** What one step did. */
interface StepResult {
  name: string;
  command: string;
  status: "passed" | "failed" | "timed out" | "skipped";
  reason?: string;
  timeoutS: number;
  seconds: number;
  exitCode: number | null;
  /** deno test's counts, from its summary line. */
  tests?: { passed: number; failed: number; ignored: number };
  /** The bench JSON. */
  result?: unknown;
  /** Timings read off bench's progress lines, kept when no JSON came (a failure, a timeout). */
  progress?: Array<{ what: string; run: string; ms: number }>;
  outputTail: string;
}

const DENO_FLAGS = ["--cached-only"];
const TEST_FLAGS = ["test", ...DENO_FLAGS, "--no-check", "-A"];

function benchStep(batch: number, runs: number, capS: number, torchDevice: string): StepPlan {
  const model = size === "full"
    ? ["--size", "vit_b", "--image-size", "1024"]
    : ["--size", "tiny", "--image-size", "128"];
  const torch = samRepo
    ? ["--sam-repo", samRepo, "--torch-python", python, "--torch-device", torchDevice]
    : ["--no-torch"];
  return {
    name: `bench ${size === "full" ? "vit_b 1024 px" : "tiny 128 px"} batch ${batch}`,
    args: [
      "run",
      ...DENO_FLAGS,
      "-A",
      `${root}cli.ts`,
      "bench",
      "--backend",
      "webgpu",
      ...model,
      "--batch",
      String(batch),
      "--methods",
      "decoder,lora,mopeft",
      "--runs",
      String(runs),
      "--warmup",
      "1",
      ...torch,
    ],
    capS,
    kind: "bench",
  };
}

/**
 * `scripts/bench_torch.py` alone at bench's sizes: run only where a bench step ended without its
 * PyTorch side (bench times PyTorch after its own steps, so a bench that runs out of time or fails
 * loses it), so that the GPU's PyTorch figures come back all the same.
 */
function torchStep(batch: number, runs: number, torchDevice: string): StepPlan {
  const s = benchSize(size === "full" ? "vit_b" : "tiny", size === "full" ? 1024 : 128);
  const args = {
    "--sam-repo": samRepo,
    "--embed-dim": s.embedDim,
    "--depth": s.depth,
    "--heads": s.numHeads,
    "--window": s.windowSize,
    "--global": s.globalBlocks.join(","),
    "--out-chans": s.outChans,
    "--image-size": s.imageSize,
    "--batch": batch,
    "--runs": runs,
    "--warmup": 1,
    "--backward": "frozen",
    "--device": torchDevice,
  };
  return {
    name: `PyTorch alone, batch ${batch} (its bench step gave no PyTorch side)`,
    program: python,
    args: [
      `${root}scripts/bench_torch.py`,
      ...Object.entries(args).flatMap(([flag, value]) => [flag, String(value)]),
    ],
    capS: 120,
    kind: "torch",
  };
}

function plan(torchDevice: string): StepPlan[] {
  const webgpuOnly = { MOPEFT_TEST_BACKENDS: "webgpu" };
  const tests: StepPlan[] = [
    {
      name: "parity goldens on webgpu",
      args: [...TEST_FLAGS, `${root}tests/encoder/parity_test.ts`],
      env: webgpuOnly,
      capS: size === "full" ? 90 : 900,
      kind: "test",
    },
    {
      name: "fused WGSL attention against plain attention",
      args: [...TEST_FLAGS, `${root}tests/encoder/webgpu_attention_test.ts`],
      capS: size === "full" ? 60 : 300,
      kind: "test",
    },
  ];
  if (size === "tiny") return [...tests, benchStep(1, 1, 400, torchDevice)];
  return [...tests, benchStep(1, 3, 210, torchDevice), benchStep(4, 2, 300, torchDevice)];
}

/** Seconds left of the budget. */
function secondsLeft(): number {
  return budgetS - (performance.now() - started) / 1000;
}

const TAIL_CHARS = 6000;

async function runStep(step: StepPlan, timeoutS: number): Promise<StepResult> {
  const command = commandLine(step);
  console.error(`gpu_check: ${step.name} (at most ${timeoutS} s): ${command}`);
  const t0 = performance.now();
  // coreutils timeout runs the step in its own process group and signals the whole group, so
  // bench's Python child goes too and the next step gets the GPU to itself.
  const child = new Deno.Command("timeout", {
    args: ["--kill-after=10", String(timeoutS), step.program ?? deno, ...step.args],
    cwd: root,
    env: { ...step.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      await Deno.stderr.write(new TextEncoder().encode(chunk));
    }
  })();
  const [status, out] = await Promise.all([child.status, stdout, stderrDone]).then((
    [s, o],
  ) => [s, o] as const);
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  // timeout exits 124 when it stopped the step, 137 when it had to kill it.
  const timedOut = status.code === 124 || status.code === 137;
  const result: StepResult = {
    name: step.name,
    command,
    status: status.success ? "passed" : timedOut ? "timed out" : "failed",
    timeoutS,
    seconds,
    exitCode: status.code,
    outputTail: "",
  };
  if (step.kind === "test") {
    const summary = (out + stderr).match(
      /(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/,
    );
    if (summary) {
      result.tests = {
        passed: Number(summary[2]),
        failed: Number(summary[3]),
        ignored: Number(summary[4] ?? 0),
      };
    }
    result.outputTail = (out + stderr).slice(-TAIL_CHARS);
  } else {
    if (status.success) {
      try {
        result.result = JSON.parse(out);
      } catch {
        result.status = "failed";
        result.reason = "bench printed no JSON";
      }
    }
    if (result.result === undefined) result.progress = benchProgress(stderr);
    result.outputTail = stderr.slice(-TAIL_CHARS);
  }
  console.error(`gpu_check: ${step.name}: ${result.status} in ${seconds} s`);
  return result;
}

/** The record of a step that did not run. */
function notRun(
  step: StepPlan,
  status: "skipped" | "failed",
  reason: string,
  timeoutS: number,
): StepResult {
  return {
    name: step.name,
    command: commandLine(step),
    status,
    reason,
    timeoutS,
    seconds: 0,
    exitCode: null,
    outputTail: "",
  };
}

function commandLine(step: StepPlan): string {
  return `${step.program ?? "deno"} ${step.args.join(" ").replaceAll(root, "")}`;
}

/** bench's progress lines, e.g. `mopeft: train step lora run 1/3: 8.18 s`, as numbers. */
function benchProgress(stderr: string): Array<{ what: string; run: string; ms: number }> {
  const lines = stderr.matchAll(
    /^(?:mopeft: )?(.+?) ((?:warm-up|run) \d+\/\d+): ([\d.]+) (ms|s)$/gm,
  );
  return [...lines].map((m) => ({
    what: m[1]!,
    run: m[2]!,
    ms: Number(m[3]) * (m[4] === "s" ? 1000 : 1),
  }));
}

async function output(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}

async function jsonOutput(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<unknown> {
  const text = await output(command, args, env);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { unparsed: text.slice(0, 500) };
  }
}

const ADAPTER_PROBE = `
const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
const limits = adapter ? Object.fromEntries(["maxBufferSize", "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup"]
  .map((k) => [k, adapter.limits[k]])) : null;
console.log(JSON.stringify(adapter ? { vendor: adapter.info.vendor,
  architecture: adapter.info.architecture, device: adapter.info.device,
  description: adapter.info.description, isFallbackAdapter: adapter.isFallbackAdapter ?? null,
  features: [...adapter.features].sort(), limits } : null));
`;

const TORCH_PROBE = `
import json, torch
cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cudaAvailable": cuda,
  "cudaVersion": torch.version.cuda,
  "device": torch.cuda.get_device_name(0) if cuda else None,
  "deviceMemoryGiB": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if cuda else None}))
`;

async function machineFacts(): Promise<Record<string, unknown>> {
  const facts: Record<string, string> = {};
  const factsFile = Deno.env.get("GPU_CHECK_FACTS");
  if (factsFile) {
    for (const line of (await Deno.readTextFile(factsFile)).split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) facts[line.slice(0, tab)] = line.slice(tab + 1);
    }
  }
  const gpus = await output("nvidia-smi", [
    "--query-gpu=name,driver_version,memory.total,compute_cap",
    "--format=csv,noheader",
  ]);
  const osRelease = await Deno.readTextFile("/etc/os-release").catch(() => "");
  return {
    bootstrap: facts,
    nvidiaSmi: gpus?.split("\n") ?? null,
    kernel: await output("uname", ["-srm"]),
    os: osRelease.match(/^PRETTY_NAME="?([^"\n]*)"?$/m)?.[1] ?? null,
    cpu: (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
      .match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? null,
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    // The adapter the steps get, and the one Vulkan alone offers (null: the loader found no
    // driver, and wgpu fell back to another backend such as OpenGL through EGL).
    webgpuAdapter: await jsonOutput(deno, ["eval", ADAPTER_PROBE]),
    webgpuAdapterVulkan: await jsonOutput(deno, ["eval", ADAPTER_PROBE], {
      DENO_WEBGPU_BACKEND: "vulkan",
    }),
    webgpuBackendSetting: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null,
    python,
    pytorch: await jsonOutput(python, ["-c", TORCH_PROBE]),
    samRepo: samRepo || null,
  };
}

const report: Record<string, unknown> = {
  check: "mopeft scripts/gpu_check.sh",
  size,
  date: new Date().toISOString(),
  budgetS,
};
const steps: StepResult[] = [];

async function save(): Promise<void> {
  report.steps = steps;
  report.passed = steps.length > 0 && steps.every((s) => s.status === "passed");
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  await writeFileAtomic(outPath, JSON.stringify(report, null, 2) + "\n");
}

report.machine = await machineFacts();
const torch = (report.machine as { pytorch: { cudaAvailable?: boolean } | null }).pytorch;
const torchDevice = Deno.env.get("GPU_CHECK_TORCH_DEVICE") ??
  (torch?.cudaAvailable ? "cuda" : "cpu");
report.torchDevice = torchDevice;
await save();

const steps_ = plan(torchDevice);
async function runWithin(step: StepPlan, timeoutS: number): Promise<void> {
  if (timeoutS < 10) {
    steps.push(notRun(step, "skipped", `the budget of ${budgetS} s was spent`, 0));
  } else {
    try {
      steps.push(await runStep(step, timeoutS));
    } catch (error) {
      // The step could not even start (no `timeout` here, say): record it and go on.
      steps.push(notRun(step, "failed", `could not run: ${(error as Error).message}`, timeoutS));
    }
  }
  await save();
}

for (const [index, step] of steps_.entries()) {
  // Later steps keep at least a third of their cap each, so one slow step cannot starve them;
  // a budget too small for that goes to the steps in order.
  const reserved = steps_.slice(index + 1).reduce((s, later) => s + Math.ceil(later.capS / 3), 0);
  const fair = secondsLeft() - reserved;
  await runWithin(step, Math.floor(Math.min(step.capS, fair >= 10 ? fair : secondsLeft())));
}
// What time is left goes to the PyTorch side of bench steps that ended without it.
const torchWanted = samRepo !== "" && torch !== null;
for (const [index, step] of steps_.entries()) {
  const benchRun = steps[index]!;
  const batch = step.args[step.args.indexOf("--batch") + 1];
  const result = benchRun.result as { torch?: unknown } | undefined;
  if (step.kind !== "bench" || !torchWanted || result?.torch || benchRun.status === "skipped") {
    continue;
  }
  const runs = Number(step.args[step.args.indexOf("--runs") + 1]);
  const fallback = torchStep(Number(batch), runs, torchDevice);
  await runWithin(fallback, Math.floor(Math.min(fallback.capS, secondsLeft())));
}
console.error(
  `gpu_check: ${steps.filter((s) => s.status === "passed").length}/${steps.length} steps ` +
    `passed in ${report.seconds} s; wrote ${outPath}`,
);
Deno.exit(report.passed ? 0 : 1);
