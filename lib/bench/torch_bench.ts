/**
 * The PyTorch side of the benchmark: runs `scripts/bench_torch.py` (the official SAM image
 * encoder, imported from a checkout of facebookresearch/segment-anything) and reads its JSON.
 *
 * @module
 */
import type { EncoderArchitecture } from "../encoder/architecture.ts";
import type { TimingSummary } from "./timing_summary.ts";

/** The Python that runs the script: Debian's, which has `python3-torch`. */
export const DEFAULT_PYTHON = "/usr/bin/python3";

const SCRIPT = new URL("../../scripts/bench_torch.py", import.meta.url);

/** What `scripts/bench_torch.py` reports. */
export interface TorchBenchResult {
  /** PyTorch's version. */
  torch: string;
  /** Threads PyTorch computed with (`torch.set_num_threads`). */
  threads: number;
  imageSize: number;
  batch: number;
  runs: number;
  warmup: number;
  /** Parameters of the official image encoder. */
  parameters: number;
  /** Where it ran: `cpu`, or the CUDA device's name. */
  device: string;
  /** Encoder forward under `torch.no_grad()`. */
  forward: TimingSummary;
  /** Forward + backward with frozen parameters and an input needing a gradient (PEFT-like). */
  forwardBackwardFrozen: TimingSummary | null;
  /** Forward + backward with every parameter trainable (full fine-tuning). */
  forwardBackwardFull: TimingSummary | null;
  /**
   * A whole LoRA training step (rank 8 on q and v, the semantic decoder, the loss, Adam), as
   * `mopeft bench` times its `lora` method; null when not asked for.
   */
  loraStep: TimingSummary | null;
  /** Values that step trains (LoRA and the mask decoder); null without it. */
  loraStepTrainableValues: number | null;
  /** The Python process's peak RSS, MiB. */
  peakRssMiB: number;
  /**
   * The peak RSS of the timed passes alone (from the RSS once the model is built), MiB; null
   * where the system cannot reset a process's peak. Absent from older reports.
   */
  runPeakRssMiB?: number | null;
  /** Peak memory PyTorch allocated on the GPU, MiB (null on the CPU). */
  peakCudaMiB: number | null;
}

/** Where PyTorch runs: the CPU or the first CUDA GPU. */
export type TorchDevice = "cpu" | "cuda";

/** Options of {@link runTorchBench}. */
export interface TorchBenchOptions {
  /** Folder holding the official `segment_anything/` package. */
  samRepo: string;
  batch: number;
  runs: number;
  warmup: number;
  /** PyTorch threads; the benchmark passes the machine's cores. */
  threads: number;
  /** Forward + backward passes to time; default both. */
  backward?: ReadonlyArray<"frozen" | "full">;
  /** Also time a whole LoRA training step with `classes` classes; default false. */
  loraStep?: boolean;
  /** Classes of the semantic decoder in the LoRA step; default 2 (as `benchModel`). */
  classes?: number;
  /** LoRA rank of that step; default 8. */
  loraRank?: number;
  /** Python interpreter; default {@link DEFAULT_PYTHON}. */
  python?: string;
  /** Where the encoder runs; default `cpu`. */
  device?: TorchDevice;
  /** Called with each progress line the script writes to stderr. */
  onProgress?: (line: string) => void;
}

/**
 * Tells why PyTorch cannot be benchmarked here (no Python, no torch, no CUDA device when `device`
 * is `cuda`, no official code at `samRepo`), or returns null when it can.
 *
 * @example
 * ```ts ignore
 * const reason = await torchUnavailable("/tmp/segment-anything");
 * if (reason) console.error(`no PyTorch comparison: ${reason}`);
 * ```
 */
export async function torchUnavailable(
  samRepo: string | undefined,
  python = DEFAULT_PYTHON,
  device: TorchDevice = "cpu",
): Promise<string | null> {
  if (!samRepo) return "no official SAM code given (--sam-repo or MOPEFT_SAM_REPO)";
  try {
    const stat = await Deno.stat(`${samRepo}/segment_anything`);
    if (!stat.isDirectory) throw new Error();
  } catch {
    return `no segment_anything/ folder in "${samRepo}"`;
  }
  try {
    const { success } = await new Deno.Command(python, {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!success) return `${python} cannot import torch`;
    if (device === "cuda") {
      const cuda = await new Deno.Command(python, {
        args: ["-c", "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!cuda.success) return `${python}'s torch sees no CUDA device`;
    }
    return null;
  } catch {
    return `cannot run ${python}`;
  }
}

/**
 * Times the official image encoder with the sizes of `encoder` in PyTorch.
 *
 * @example
 * ```ts ignore
 * const torch = await runTorchBench(weights.architecture.encoder, {
 *   samRepo: "/tmp/segment-anything", batch: 1, runs: 3, warmup: 1, threads: 2,
 * });
 * torch.forward.medianMs;
 * ```
 */
export async function runTorchBench(
  encoder: EncoderArchitecture,
  options: TorchBenchOptions,
): Promise<TorchBenchResult> {
  const globalBlocks = encoder.blockWindowSizes.flatMap((w, block) => w === 0 ? [block] : []);
  const windowSize = encoder.blockWindowSizes.find((w) => w > 0) ?? 14;
  const backward = options.backward ?? ["frozen", "full"];
  const args = [
    SCRIPT.pathname,
    "--sam-repo",
    options.samRepo,
    "--embed-dim",
    String(encoder.embedDim),
    "--depth",
    String(encoder.depth),
    "--heads",
    String(encoder.numHeads),
    "--window",
    String(windowSize),
    "--global",
    globalBlocks.join(","),
    "--out-chans",
    String(encoder.outChans),
    "--image-size",
    String(encoder.imageSize),
    "--batch",
    String(options.batch),
    "--runs",
    String(options.runs),
    "--warmup",
    String(options.warmup),
    "--threads",
    String(options.threads),
    "--backward",
    backward.length > 0 ? backward.join(",") : "none",
    "--device",
    options.device ?? "cpu",
    ...(options.loraStep
      ? [
        "--lora-step",
        "--classes",
        String(options.classes ?? 2),
        "--lora-rank",
        String(options.loraRank ?? 8),
      ]
      : []),
  ];
  const child = new Deno.Command(options.python ?? DEFAULT_PYTHON, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errorLines: string[] = [];
  const readErrors = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        errorLines.push(line);
        options.onProgress?.(line);
      }
    }
    if (pending) errorLines.push(pending);
  })();
  const stdout = new Response(child.stdout).text();
  const [status, text] = await Promise.all([child.status, stdout, readErrors]).then((
    [s, t],
  ) => [s, t] as const);
  if (!status.success) {
    const last = errorLines.filter((line) => line.trim()).at(-1) ?? "no message";
    throw new Error(`scripts/bench_torch.py failed (exit code ${status.code}): ${last}`);
  }
  try {
    return JSON.parse(text) as TorchBenchResult;
  } catch {
    throw new Error(`scripts/bench_torch.py printed no JSON: ${text.slice(0, 200)}`);
  }
}
