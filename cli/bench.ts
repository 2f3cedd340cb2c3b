/**
 * `mopeft bench`: encoder forward and training-step timings per method, peak memory, and the
 * comparison with the official PyTorch code, as JSON on stdout.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { benchReader, type ReaderBenchResult } from "../lib/bench/reader_bench.ts";
import { BENCH_SIZES, benchSize } from "../lib/bench/bench_sizes.ts";
import { machineInfo } from "../lib/bench/machine_info.ts";
import { benchModel, type ModelBenchResult } from "../lib/bench/model_bench.ts";
import { randomSamWeights } from "../lib/bench/random_weights.ts";
import {
  DEFAULT_PYTHON,
  runTorchBench,
  type TorchBenchResult,
  type TorchDevice,
  torchUnavailable,
} from "../lib/bench/torch_bench.ts";
import {
  estimateTorchMemory,
  type TorchMemoryEstimate,
  torchMemoryRefusal,
} from "../lib/bench/torch_memory.ts";
import { type TorchRatios, torchRatios } from "../lib/bench/torch_ratios.ts";
import { loadCheckpoint } from "../lib/encoder/checkpoint.ts";
import type { SamWeights } from "../lib/encoder/weights.ts";
import { isMethodName, METHOD_NAMES, type MethodName, methodSpec } from "../lib/peft/registry.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { log, printJson, setQuiet, UsageError } from "./io.ts";
import { nonNegativeNumber } from "./options.ts";
import { benchOnnxEncoders } from "../lib/export/onnx_bench.ts";

const DEFAULT_METHODS = "decoder,lora,prefix,adapter,mopeft";

interface BenchOptions {
  checkpoint?: string;
  size?: string;
  imageSize?: string;
  batch: string;
  microBatch?: string;
  methods: string;
  runs: string;
  warmup: string;
  torch?: boolean;
  samRepo?: string;
  torchDevice: string;
  torchPython: string;
  reader: boolean;
  onnx: boolean;
  mosaConsistency?: number;
  profile: boolean;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Checked options, ready to run. */
interface BenchPlan {
  checkpoint?: string;
  sizeName: string;
  imageSize?: number;
  batch: number;
  microBatch?: number;
  methods: MethodName[];
  runs: number;
  warmup: number;
  mosaConsistency?: number;
}

/** Registers `mopeft bench`. */
export function registerBench(program: Command): void {
  const command = program.command("bench")
    .description(
      "Time the image-encoder forward and a training step per method (median of --runs after " +
        "--warmup), with peak memory; compare with the official PyTorch code when available",
    )
    .option("--checkpoint <file>", "SAM checkpoint (.safetensors); default: random weights")
    .option(
      "--size <name>",
      `size of the random weights: ${Object.keys(BENCH_SIZES).join(", ")} (default vit_b)`,
    )
    .option("--image-size <S>", "input side in pixels, a multiple of 16 (default: the size's)")
    .option("--batch <B>", "images per batch", "1")
    .option(
      "--micro-batch <N>",
      "images per pass of a training step (default: chosen from the backend's memory)",
    )
    .option(
      "--methods <list>",
      "comma-separated methods to time, or none (plain forward only)",
      DEFAULT_METHODS,
    )
    .option("--runs <N>", "timed runs per measurement", "3")
    .option("--warmup <N>", "untimed runs before them", "1")
    .addOption(
      new Option(
        "--torch",
        "also time the official PyTorch encoder (default: on when --torch-python has torch " +
          "and the official code is found)",
      ),
    )
    .addOption(new Option("--no-torch", "skip the PyTorch comparison"))
    .option(
      "--sam-repo <dir>",
      "checkout of facebookresearch/segment-anything (default: env MOPEFT_SAM_REPO)",
    )
    .addOption(
      new Option("--torch-device <device>", "where PyTorch runs").choices(["cpu", "cuda"])
        .default("cpu"),
    )
    .option("--torch-python <path>", "the Python that has PyTorch", DEFAULT_PYTHON)
    .option(
      "--profile",
      "also profile one more training step per method: time per tfjs kernel and per encoder stage",
      false,
    )
    .option("--reader", "also run the streaming-reader benchmark", false)
    .option(
      "--onnx",
      "also time each method's exported encoder.onnx in onnxruntime (CPU, batch 1), after ours",
      false,
    )
    .option(
      "--mosa-consistency <W>",
      "MoSA's consistency weight for the mosa step (default 1; 0 times it without the second pass)",
      nonNegativeNumber,
    )
    .option("--quiet", "no progress output", false);
  addBackendOptions(command).action(async (options: BenchOptions) => {
    setQuiet(options.quiet);
    const plan = checkOptions(options);
    const samRepo = options.samRepo ?? Deno.env.get("MOPEFT_SAM_REPO");
    const torchDevice = options.torchDevice as TorchDevice;
    const torchReason = options.torch === false
      ? "--no-torch"
      : await torchUnavailable(samRepo, options.torchPython, torchDevice);
    if (options.torch === true && torchReason) {
      throw new Error(`Cannot run the PyTorch comparison: ${torchReason}`);
    }

    const started = performance.now();
    const choice = await startBackend(options);
    const weights = await openWeights(plan);
    const encoder = weights.architecture.encoder;
    const model = {
      source: plan.checkpoint ? "checkpoint" : "random",
      size: plan.checkpoint ? null : plan.sizeName,
      checkpoint: plan.checkpoint ?? null,
      imageSize: encoder.imageSize,
      embedDim: encoder.embedDim,
      depth: encoder.depth,
      numHeads: encoder.numHeads,
      globalBlocks: encoder.blockWindowSizes.flatMap((w, block) => w === 0 ? [block] : []),
      encoderParameters: weights.names()
        .filter((name) => name.startsWith("image_encoder."))
        .reduce((n, name) => n + weights.get(name).size, 0),
    };
    log(
      `mopeft: bench ${plan.checkpoint ?? plan.sizeName} at ${encoder.imageSize} px, batch ` +
        `${plan.batch}, on ${choice.backend}; ${plan.warmup} warm-up + ${plan.runs} runs each`,
    );
    const machine = machineInfo(choice);
    let ours: ModelBenchResult | undefined;
    let onnx: { batch: 1; encoders: unknown[] } | undefined;
    try {
      ours = await benchModel(weights, {
        batch: plan.batch,
        microBatch: plan.microBatch,
        methods: plan.methods,
        runs: plan.runs,
        warmup: plan.warmup,
        mosaConsistency: plan.mosaConsistency,
        profile: options.profile,
        onProgress: (line) => log(`mopeft: ${line}`),
      });
      if (options.onnx) {
        log("mopeft: the exported encoders in onnxruntime");
        const encoders = await benchOnnxEncoders(weights, {
          methods: plan.methods.filter((m) => methodSpec(m).modules.length > 0),
          runs: plan.runs,
          warmup: plan.warmup,
          onProgress: (line) => log(`mopeft: ${line}`),
        });
        const oursFor = (method: string) =>
          method === "plain"
            ? ours!.forward.medianMs
            : ours!.methods.find((m) => m.method === method)?.forward?.medianMs;
        onnx = {
          batch: 1,
          encoders: encoders.map((e) => {
            const mine = oursFor(e.method);
            return {
              ...e,
              // Ours over onnxruntime's, like for like only at batch 1.
              oursOverOnnx: mine !== undefined && plan.batch === 1
                ? Math.round((mine / e.forward.medianMs) * 100) / 100
                : null,
            };
          }),
        };
      }
    } finally {
      try {
        weights.dispose();
      } catch {
        // A wasm module that aborted (out of memory) cannot free; the process ends soon anyway.
      }
    }

    // After ours, never beside it: both would compete for the same cores.
    let torch: TorchBenchResult | null = null;
    let overTorch: TorchRatios | null = null;
    let torchMemory: (TorchMemoryEstimate & { availableMiB: number; fits: boolean }) | null = null;
    let torchSkipped = torchReason;
    if (torchReason) {
      log(`mopeft: no PyTorch comparison (${torchReason})`);
    } else {
      const torchOptions = {
        samRepo: samRepo!,
        batch: plan.batch,
        runs: plan.runs,
        warmup: plan.warmup,
        threads: machine.cores,
        python: options.torchPython,
        device: torchDevice,
        // Only the passes some timed method compares with.
        backward: [
          ...(plan.methods.some((m) => m !== "full") ? ["frozen" as const] : []),
          ...(plan.methods.includes("full") ? ["full" as const] : []),
        ],
        // The like-for-like whole step, when some method trains encoder modules.
        loraStep: plan.methods.some((m) => methodSpec(m).modules.length > 0),
        onProgress: (line: string) => log(`mopeft: ${line}`),
      };
      let refusal: string | null = null;
      if (torchDevice === "cpu") {
        // A run past the machine's memory would take the machine down: estimate it first.
        const estimate = await estimateTorchMemory(
          encoder,
          plan.batch,
          async (imageSize, batch) => {
            const probe = await runTorchBench({ ...encoder, imageSize }, {
              ...torchOptions,
              batch,
              runs: 1,
              warmup: 0,
              onProgress: undefined,
            });
            // The timed passes' own peak where known: a small run's process peak is its start's.
            const peak = probe.runPeakRssMiB ?? probe.peakRssMiB;
            log(`mopeft: torch memory probe ${imageSize} px, batch ${batch}: ${peak} MiB`);
            return peak;
          },
          (neededMiB) =>
            torchMemoryRefusal(
              { neededMiB },
              Math.round(Deno.systemMemoryInfo().available / 2 ** 20),
            ) === null,
        );
        const availableMiB = Math.round(Deno.systemMemoryInfo().available / 2 ** 20);
        refusal = torchMemoryRefusal(estimate, availableMiB);
        torchMemory = { ...estimate, availableMiB, fits: refusal === null };
        log(
          `mopeft: PyTorch at ${encoder.imageSize} px, batch ${plan.batch} needs about ` +
            `${estimate.neededMiB} MiB (estimated), ${availableMiB} MiB available`,
        );
      }
      if (refusal) {
        torchSkipped = `does not fit this machine's memory: ${refusal}`;
        log(`mopeft: no PyTorch comparison (${torchSkipped})`);
      } else {
        torch = await runTorchBench(encoder, torchOptions);
        overTorch = torchRatios(ours, torch);
      }
    }

    let reader: ReaderBenchResult | undefined;
    if (options.reader) {
      log("mopeft: reader benchmark");
      reader = await benchReader();
    }

    printJson({
      date: new Date().toISOString(),
      commit: await checkoutCommit(),
      machine,
      model,
      ...ours,
      torch,
      torchSkipped,
      torchMemory,
      overTorch,
      ...(reader ? { reader } : {}),
      ...(onnx ? { onnx } : {}),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
  });
}

function checkOptions(options: BenchOptions): BenchPlan {
  if (options.checkpoint !== undefined && options.size !== undefined) {
    throw new UsageError(
      "--size and --checkpoint exclude each other (a checkpoint fixes the size)",
    );
  }
  const sizeName = options.size ?? "vit_b";
  const imageSize = options.imageSize === undefined
    ? undefined
    : integer("--image-size", options.imageSize, 16);
  if (imageSize !== undefined && imageSize % 16 !== 0) {
    throw new UsageError(`--image-size must be a multiple of 16, got ${imageSize}`);
  }
  if (!options.checkpoint) {
    try {
      benchSize(sizeName, imageSize);
    } catch (error) {
      throw new UsageError(`--size: ${(error as Error).message}`);
    }
  }
  const methods = options.methods === "none"
    ? []
    : options.methods.split(",").map((m) => m.trim()).filter((m) => m !== "");
  if (methods.length === 0 && options.methods !== "none") {
    throw new UsageError('--methods names no method (use "none" to time the plain forward only)');
  }
  for (const method of methods) {
    if (!isMethodName(method)) {
      throw new UsageError(
        `--methods: unknown method "${method}" (known: ${METHOD_NAMES.join(", ")})`,
      );
    }
  }
  return {
    checkpoint: options.checkpoint,
    sizeName,
    imageSize,
    batch: integer("--batch", options.batch, 1),
    microBatch: options.microBatch === undefined
      ? undefined
      : integer("--micro-batch", options.microBatch, 1),
    methods: [...new Set(methods)] as MethodName[],
    runs: integer("--runs", options.runs, 1),
    warmup: integer("--warmup", options.warmup, 0),
    mosaConsistency: options.mosaConsistency,
  };
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer of at least ${min}, got "${text}"`);
  }
  return value;
}

async function openWeights(plan: BenchPlan): Promise<SamWeights> {
  if (!plan.checkpoint) {
    return randomSamWeights(benchSize(plan.sizeName, plan.imageSize), 1);
  }
  const weights = await loadCheckpoint(plan.checkpoint);
  const side = weights.architecture.encoder.imageSize;
  if (plan.imageSize !== undefined && plan.imageSize !== side) {
    weights.dispose();
    throw new UsageError(
      `--image-size ${plan.imageSize} differs from the checkpoint's input side ${side} ` +
        "(its position embeddings fix it)",
    );
  }
  return weights;
}

/**
 * The commit of the checkout this command runs from (`-dirty` when tracked files differ from
 * it), for the performance page's tables; null outside a git checkout.
 */
async function checkoutCommit(): Promise<string | null> {
  const folder = new URL(".", import.meta.url).pathname;
  const git = async (...args: string[]) => {
    const { success, stdout } = await new Deno.Command("git", {
      args: ["-C", folder, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) throw new Error(`git ${args[0]} failed`);
    return new TextDecoder().decode(stdout).trim();
  };
  try {
    const commit = await git("rev-parse", "--short", "HEAD");
    const changes = await git("status", "--porcelain", "--untracked-files=no");
    return changes ? `${commit}-dirty` : commit;
  } catch {
    return null;
  }
}
