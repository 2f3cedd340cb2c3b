/**
 * `mopeft train`: fine-tune SAM's semantic head and a PEFT method on a dataset split.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { DetectionReader } from "../lib/data/detection_reader.ts";
import { TILE_KEEP_FRACTION } from "../lib/data/detection_tiles.ts";
import { SegmentationReader } from "../lib/data/reader.ts";
import { DEFAULT_QUERIES } from "../lib/decoder/detection_head.ts";
import { type HeadConfig, SEMANTIC_HEAD } from "../lib/decoder/head.ts";
import { evaluateDetections } from "../lib/eval/detect_evaluate.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { validatePeftConfig } from "../lib/peft/config.ts";
import { PeftModel } from "../lib/peft/peft_model.ts";
import { savePeftRun } from "../lib/peft/run_files.ts";
import { loadBaseCheckpoint } from "../lib/run/base_checkpoint.ts";
import {
  CACHE_FOLDER,
  clearRunFolder,
  inspectRunFolder,
  METRICS_FILE,
  readMetricsUpTo,
  readRunSettings,
  type RunSettings,
  writeRunSettings,
} from "../lib/run/run_folder.ts";
import { OutOfMemoryError } from "../lib/backend/out_of_memory.ts";
import { loadTrainingCheckpoint } from "../lib/train/checkpoint.ts";
import { detectionBatch } from "../lib/train/detection_batch.ts";
import { EmbeddingCache } from "../lib/train/embedding_cache.ts";
import { planMicroBatch } from "../lib/train/memory_budget.ts";
import { train, type TrainLogRecord, type TrainOptions } from "../lib/train/trainer.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { addDataOptions, checkDataSplit, type DataOptions, loadDataSplit } from "./data_options.ts";
import { Interrupted, log, onStopRequest, printJson, setQuiet, UsageError } from "./io.ts";
import {
  applyConfigFile,
  fractionBelowOne,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
} from "./options.ts";
import { addPeftOptions, peftConfigFromOptions, type PeftOptions } from "./peft_options.ts";
import { createProgress } from "./progress.ts";
import {
  addDetectionDataOptions,
  addStrictIdsOption,
  addTaskOption,
  checkStrictIds,
  loadTaskDetectionSplit,
  printIdWarning,
  type Task,
  type TaskDataOptions,
  trainingTask,
} from "./task_options.ts";

interface TrainCliOptions extends DataOptions, PeftOptions, TaskDataOptions {
  queries?: number;
  tileKeep?: number;
  checkpoint: string;
  out: string;
  epochs?: number;
  steps?: number;
  batchSize: number;
  microBatch?: number;
  cache: boolean;
  cacheMemory: number;
  keepCache: boolean;
  lr: number;
  lrSchedule: "constant" | "cosine";
  warmupSteps: number;
  weightDecay: number;
  seed: number;
  valSplit?: string;
  valEvery?: number;
  saveEvery?: number;
  logEvery: number;
  resume: boolean;
  force: boolean;
  config?: string;
  backend: string;
  verbose: boolean;
  quiet: boolean;
  strictIds?: boolean;
}

/** Registers `mopeft train`. */
export function registerTrain(program: Command): void {
  const command = program.command("train")
    .description(
      "Fine-tune SAM for semantic segmentation or object detection (COCO-style boxes, e.g. " +
        "FAIR-1M) with a PEFT method; writes peft.safetensors, peft.json, metrics.jsonl and a " +
        "resumable checkpoint into --out",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors)")
    .requiredOption("--out <dir>", "run folder to write")
    .option(
      "--epochs <n>",
      "passes over the training split (default 10 without --steps)",
      positiveInteger,
    )
    .option("--steps <n>", "stop after this many steps in total (a cap)", nonNegativeInteger)
    .option("--batch-size <n>", "tiles per step", positiveInteger, 4)
    .option(
      "--micro-batch <n>",
      "tiles per pass of the model; a step accumulates its batch's gradient over passes " +
        "(default: as many as the backend's memory allows)",
      positiveInteger,
    )
    .option("--no-cache", "decoder-only training: encode every tile every epoch")
    .option(
      "--cache-memory <MiB>",
      "decoder-only training: MiB of image embeddings kept in memory; the rest goes to --out/cache",
      nonNegativeNumber,
      1024,
    )
    .option("--keep-cache", "keep --out/cache when the run ends", false)
    .option("--lr <rate>", "Adam learning rate", positiveNumber, 1e-4)
    .addOption(
      new Option("--lr-schedule <kind>", "learning-rate schedule over --steps (or the epochs)")
        .choices(["constant", "cosine"]).default("constant"),
    )
    .option("--warmup-steps <n>", "linear learning-rate warm-up steps", nonNegativeInteger, 0)
    .option("--weight-decay <wd>", "Adam weight decay", nonNegativeNumber, 1e-4)
    .option("--seed <n>", "seed of the initial weights and the data order", nonNegativeInteger, 0)
    .option(
      "--val-split <name>",
      "split scored during training: mIoU for segmentation, AP50 for detection",
    )
    .option("--val-every <n>", "steps between validations", positiveInteger)
    .option(
      "--save-every <n>",
      "steps between checkpoints (also saved at the end and on Ctrl-C)",
      positiveInteger,
    )
    .option("--log-every <n>", "steps between metrics.jsonl lines", positiveInteger, 10)
    .option("--resume", "continue the run in --out from its last checkpoint", false)
    .option("--force", "replace a run already in --out", false)
    .option("--config <file>", "JSON file with option values (keys as the flags); flags win")
    .option("--quiet", "no progress output", false)
    .option(
      "--queries <n>",
      `detection: object queries of the head (default ${DEFAULT_QUERIES})`,
      positiveInteger,
    )
    .option(
      "--tile-keep <fraction>",
      "detection: a tile takes a cut object as it is when it holds more than this of its area, " +
        `else as difficult, no loss (default ${TILE_KEEP_FRACTION}, as DOTA's devkit)`,
      fractionBelowOne,
    );
  addTaskOption(command);
  addDataOptions(command, "train");
  addDetectionDataOptions(command);
  addStrictIdsOption(command);
  addPeftOptions(command, false);
  addBackendOptions(command).action(async (options: TrainCliOptions, cmd: Command) => {
    if (options.config) {
      await applyConfigFile(cmd, options as unknown as Record<string, unknown>, options.config);
    }
    setQuiet(options.quiet);
    await runTrain(options);
  });
}

async function runTrain(options: TrainCliOptions): Promise<void> {
  const folder = await inspectRunFolder(options.out);
  let resumed: RunSettings | undefined;
  if (options.resume) {
    if (!folder.hasCheckpoint) {
      throw new Error(`Cannot resume "${options.out}": it holds no training checkpoint`);
    }
    resumed = await readRunSettings(options.out);
  } else if ((folder.hasRun || folder.hasCheckpoint || folder.hasSettings) && !options.force) {
    throw new UsageError(
      `output folder "${options.out}" already holds a run; use --resume to continue it or --force to replace it`,
    );
  }
  if (!options.method && !resumed) throw new UsageError("train needs --method (or --resume)");
  if (resumed && options.method && options.method !== resumed.peft.method) {
    throw new UsageError(
      `cannot resume "${options.out}" with --method ${options.method}: it was trained with ${resumed.peft.method}`,
    );
  }
  const task: Task = resumed ? resumed.head?.task ?? "semantic" : await trainingTask(options);
  if (resumed && options.task && options.task !== task) {
    throw new UsageError(
      `cannot resume "${options.out}" with --task ${options.task}: it is a ${task} run`,
    );
  }
  const head: HeadConfig = resumed
    ? resumed.head ?? SEMANTIC_HEAD
    : task === "detection"
    ? { task, queries: options.queries ?? DEFAULT_QUERIES }
    : SEMANTIC_HEAD;
  if (resumed?.peft.adapterKind === "mosa" && resumed.peft.mosaShare === undefined) {
    throw new Error(
      `Cannot resume "${options.out}": it was trained with the earlier MoSA (masked gradients of ` +
        "one adapter), whose checkpoint holds no expert copies; its peft.safetensors still loads",
    );
  }
  if (task === "detection" && (options.mosaConsistency ?? 0) > 0) {
    throw new UsageError(
      "--mosa-consistency compares per-pixel class distributions of the semantic head; " +
        "detection runs train MoSA without it (leave it out or pass 0)",
    );
  }
  const peftConfig = resumed ? validatePeftConfig(resumed.peft) : peftConfigFromOptions({
    ...options,
    // MoSA's consistency term (default 1) is defined for the semantic head only.
    ...(task === "detection" ? { mosaConsistency: 0 } : {}),
  } as PeftOptions);
  const seed = resumed?.seed ?? options.seed;
  // A resumed run keeps the settings it started with, so that it ends where a straight run would.
  const batchSize = resumed?.batchSize ?? options.batchSize;
  const learningRate = resumed?.learningRate ?? options.lr;
  const lrSchedule = resumed?.lrSchedule ?? options.lrSchedule;
  const warmupSteps = resumed?.warmupSteps ?? options.warmupSteps;
  const weightDecay = resumed?.weightDecay ?? options.weightDecay;
  const steps = options.steps ?? resumed?.maxSteps ?? undefined;
  const epochs = options.epochs ?? resumed?.epochs ?? (steps === undefined ? 10 : undefined);
  if (options.valEvery && !options.valSplit && options.holdout === undefined) {
    throw new UsageError(
      "--val-every needs --val-split (or --holdout, which validates on the held-out part)",
    );
  }

  const choice = await startBackend(options);
  // Everything that can fail on bad input happens before the run folder is touched.
  const detectionSplit = task === "detection"
    ? await loadTaskDetectionSplit(options, options.split, "train", { part: "train", seed })
    : undefined;
  let trainSplit = detectionSplit
    ? undefined
    : await loadDataSplit(options, options.split, "train", {
      part: "train",
      seed,
    });
  const detectionValidation = !detectionSplit
    ? undefined
    : options.valSplit
    ? await loadTaskDetectionSplit({ ...options, holdout: undefined }, options.valSplit, "evaluate")
    : options.holdout !== undefined && options.valEvery
    ? await loadTaskDetectionSplit(options, options.split, "train", { part: "heldOut", seed })
    : undefined;
  let validationSplit = !trainSplit
    ? undefined
    : options.valSplit
    ? await loadDataSplit({ ...options, holdout: undefined }, options.valSplit, "evaluate")
    : options.holdout !== undefined && options.valEvery
    ? await loadDataSplit(options, options.split, "train", { part: "heldOut", seed })
    : undefined;
  if (detectionValidation) checkStrictIds(detectionValidation, options.strictIds);
  let idWarningPrinted = false;
  const base = await loadBaseCheckpoint(options.checkpoint);
  if (resumed && resumed.baseCheckpointSha256 !== base.fingerprint.sha256) {
    throw new Error(
      `Cannot resume "${options.out}": it was trained on checkpoint sha256 ${
        resumed.baseCheckpointSha256.slice(0, 12)
      }… but "${options.checkpoint}" has ${base.fingerprint.sha256.slice(0, 12)}…`,
    );
  }
  // Every file decoded once now, so that a corrupt one fails here and not hours into the run.
  if (trainSplit) trainSplit = await checkDataSplit(trainSplit, options);
  if (validationSplit) validationSplit = await checkDataSplit(validationSplit, options);
  const classNames = [...(detectionSplit?.classNames ?? trainSplit!.dataset.classNames)];
  const imageSize = base.weights.architecture.encoder.imageSize;
  const model = PeftModel.create(base.weights, peftConfig, {
    numClasses: classNames.length,
    seed,
    head,
  });
  const resumeFrom = resumed ? await loadTrainingCheckpoint(options.out) ?? undefined : undefined;
  // A memory setting, not part of what the run computes (a step equals one batch either way),
  // so a resumed run chooses it afresh.
  const plan = planMicroBatch(
    base.weights.architecture.encoder,
    batchSize,
    model.frozenSplit() === undefined,
  );
  if (task === "detection" && options.microBatch !== undefined && options.microBatch < batchSize) {
    throw new UsageError(
      "--micro-batch is for semantic runs (the detection loss is not a sum over samples)",
    );
  }
  if (task !== "detection" && options.tileKeep !== undefined) {
    throw new UsageError(
      "--tile-keep is for detection runs (it decides which objects a tile takes)",
    );
  }
  const tileKeep = task === "detection"
    ? resumed?.tileKeep ?? options.tileKeep ?? TILE_KEEP_FRACTION
    : undefined;
  const microBatch = task === "detection"
    ? batchSize
    : Math.min(options.microBatch ?? plan.microBatch, batchSize);

  if (options.force && !options.resume) await clearRunFolder(options.out);
  await Deno.mkdir(options.out, { recursive: true });
  const settings: RunSettings = {
    format: "mopeft-run",
    version: 1,
    peft: peftConfig,
    seed,
    batchSize,
    learningRate,
    lrSchedule,
    warmupSteps,
    weightDecay,
    epochs: epochs ?? null,
    maxSteps: steps ?? null,
    microBatch,
    dataset: detectionSplit?.source ?? trainSplit!.dataset.id,
    split: detectionSplit?.split ?? trainSplit!.dataset.split,
    classNames,
    baseCheckpointSha256: base.fingerprint.sha256,
    head,
    ...(tileKeep !== undefined ? { tileKeep } : {}),
  };
  await writeRunSettings(options.out, settings);

  const readerOptions = { size: imageSize, seed, skipBad: options.skipBad, tileKeep };
  const validationReader = validationSplit
    ? new SegmentationReader(validationSplit, { size: imageSize, skipBad: options.skipBad })
    : undefined;
  const metricsLines = resumeFrom ? await readMetricsUpTo(options.out, resumeFrom.step) : [];
  const tilesPerEpoch = detectionSplit?.images.length ?? trainSplit!.pairs.length;
  const totalSteps = steps ?? (epochs ?? 1) * Math.ceil(tilesPerEpoch / batchSize);
  const progress = createProgress({
    label: "train",
    total: totalSteps,
    start: resumeFrom?.step,
    unit: "step",
    quiet: options.quiet,
  });
  log(
    `mopeft: training ${peftConfig.method}${task === "detection" ? " (detection)" : ""} on ${
      detectionSplit?.source ?? trainSplit!.dataset.name
    } (${tilesPerEpoch} images, ${classNames.length} classes) with ${choice.backend}` +
      (resumeFrom ? `, resuming at step ${resumeFrom.step}` : ""),
  );

  if (microBatch < batchSize) {
    log(
      `mopeft: ${batchSize} tiles per step in passes of ${microBatch}` +
        (options.microBatch !== undefined
          ? " (--micro-batch)"
          : plan.limit
          ? ` (estimated ${gib(plan.estimate.perTileBytes)} per tile, ` +
            `${gib(plan.estimate.fixedBytes)} fixed, under ${plan.limit.what}'s ` +
            `${gib(plan.limit.bytes)})`
          : ""),
    );
  }
  // Decoder-only: the frozen encoder's outputs are computed once and reused (see
  // lib/train/embedding_cache.ts); the reader's tiles are deterministic (no augmentation).
  const embeddingCache = options.cache && task === "semantic" && model.frozenSplit()
    ? new EmbeddingCache({
      scope: JSON.stringify([base.fingerprint.sha256, imageSize, peftConfig, seed]),
      memoryBytes: options.cacheMemory * 2 ** 20,
      dir: `${options.out}/${CACHE_FOLDER}`,
    })
    : undefined;

  const abort = new AbortController();
  // Ctrl-C, a scheduler's SIGTERM (Slurm's time limit, a Kubernetes pod's end), or the end of the
  // study that started this run: finish the step, save a checkpoint, exit 130. Listened to until
  // the run's files are written, so that a stop after the last step cuts none of them short.
  const stopListening = onStopRequest(() => abort.abort());
  let result;
  try {
    const trainOptions: TrainOptions = {
      epochs,
      maxSteps: steps,
      batchSize,
      microBatch,
      embeddingCache,
      learningRate: { base: learningRate, warmupSteps, decay: lrSchedule, totalSteps },
      weightDecay,
      seed,
      logEvery: 1,
      saveEvery: options.saveEvery,
      checkpointDir: options.out,
      signal: abort.signal,
      resumeFrom,
      validate: validationReader
        ? async () =>
          (await evaluate((images) => model.forward(images), validationReader, { batchSize }))
            .report
            .miou ?? 0
        : detectionValidation
        ? async () =>
          (await evaluateDetections((images) => model.detect(images), detectionValidation, {
            size: imageSize,
            classNames,
            batchSize,
            overlap: Math.floor(imageSize / 8),
            // Said once: every validation scores the same ground truth.
            onWarning: (message) => {
              if (!idWarningPrinted) printIdWarning(message);
              idWarningPrinted = true;
            },
          })).report.ap50 ?? 0
        : undefined,
      validationMetric: detectionValidation ? "ap50" : "miou",
      valEvery: validationReader || detectionValidation
        ? options.valEvery ?? Math.max(1, Math.ceil(tilesPerEpoch / batchSize))
        : undefined,
      onLog: async (record: TrainLogRecord) => {
        progress.update(record.step, {
          loss: record.loss.toFixed(4),
          ...(record.valMiou !== undefined ? { "val mIoU": record.valMiou.toFixed(2) } : {}),
          ...(record.valAp50 !== undefined ? { "val AP50": record.valAp50.toFixed(2) } : {}),
        });
        const validated = record.valMiou !== undefined || record.valAp50 !== undefined;
        if (record.step % options.logEvery === 0 || validated) {
          metricsLines.push(JSON.stringify(record));
          await writeFileAtomic(`${options.out}/${METRICS_FILE}`, metricsLines.join("\n") + "\n");
        }
      },
    };
    result = detectionSplit
      ? await train(model.detector(), new DetectionReader(detectionSplit, readerOptions), {
        ...trainOptions,
        prepareBatch: (tiles) => detectionBatch(tiles),
      })
      : await train(model, new SegmentationReader(trainSplit!, readerOptions), trainOptions);
  } catch (error) {
    stopListening();
    if (!(error instanceof OutOfMemoryError)) throw error;
    const advice = microBatch > 1 && task === "semantic"
      ? `try --micro-batch ${Math.max(1, Math.floor(microBatch / 2))}`
      : "try a smaller --batch-size";
    const saved = (await inspectRunFolder(options.out)).hasCheckpoint
      ? `its last checkpoint in "${options.out}" is intact (--resume)`
      : `"${options.out}" holds no checkpoint yet`;
    throw new OutOfMemoryError(error.summary, `${advice} or --backend webgpu; ${saved}`, {
      cause: error,
    });
  }
  const cacheStats = embeddingCache?.stats;
  // Kept, with what was in memory, when the run stopped early: a resumed run reuses it.
  if (embeddingCache && result.stopped) await embeddingCache.persist();
  else if (embeddingCache && !options.keepCache) await embeddingCache.remove();
  await writeFileAtomic(
    `${options.out}/${METRICS_FILE}`,
    metricsLines.join("\n") + (metricsLines.length ? "\n" : ""),
  );
  await savePeftRun(options.out, model, { classNames, baseFingerprint: base.fingerprint });
  progress.done();
  stopListening();
  model.dispose();
  base.weights.dispose();
  const summary = {
    out: options.out,
    method: peftConfig.method,
    task,
    // The run's steps in all, and those this process ran (fewer after --resume).
    steps: result.step,
    stepsRun: result.step - (resumeFrom?.step ?? 0),
    resumedAt: resumeFrom?.step ?? null,
    epoch: result.epoch,
    loss: result.loss,
    stopped: result.stopped,
    backend: choice.backend,
    microBatch,
    ...(cacheStats ? { embeddingCache: cacheStats } : {}),
  };
  printJson(summary);
  if (result.stopped) {
    throw new Interrupted(
      `interrupted at step ${result.step}; checkpoint saved, continue with --resume`,
    );
  }
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}
