/**
 * `mopeft eval`: score a trained run on a dataset split, MESS's way.
 *
 * @module
 */
import type { Command } from "commander";
import { SegmentationReader } from "../lib/data/reader.ts";
import type { SplitPurpose } from "../lib/data/split_choice.ts";
import { evaluateDetections, shardImages } from "../lib/eval/detect_evaluate.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { type OpenRun, openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { addDataOptions, type DataOptions, loadDataSplit } from "./data_options.ts";
import { log, printJson, setQuiet, UsageError } from "./io.ts";
import { nonNegativeInteger, positiveInteger, shardSpec } from "./options.ts";
import { createProgress } from "./progress.ts";
import {
  addDetectionDataOptions,
  addStrictIdsOption,
  checkDatasetTask,
  checkStrictIds,
  dataLayout,
  loadTaskDetectionSplit,
  printIdWarning,
  type TaskDataOptions,
} from "./task_options.ts";

interface EvalOptions extends DataOptions, TaskDataOptions {
  checkpoint: string;
  peft?: string;
  shard?: { index: number; count: number };
  overlap?: number;
  batchSize: number;
  seed: number;
  backend: string;
  verbose: boolean;
  quiet: boolean;
  strictIds?: boolean;
}

/** Registers `mopeft eval`. */
export function registerEval(program: Command): void {
  const command = program.command("eval")
    .description(
      "Predict every image of a split (tiles stitched back, logits averaged where they overlap) " +
        "and print MESS's scores with the confusion matrix as JSON",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .option("--peft <dir>", "trained run folder (from mopeft train)")
    .option(
      "--shard <I/N>",
      "evaluate images I, I+N, I+2N, ... (join shards with merge-scores)",
      shardSpec,
    )
    .option(
      "--overlap <pixels>",
      "pixels shared by neighbouring tiles (default S/8)",
      nonNegativeInteger,
    )
    .option("--batch-size <n>", "tiles per forward pass", positiveInteger, 1)
    .option("--seed <n>", "seed of --holdout (use the training run's)", nonNegativeInteger, 0)
    .option("--quiet", "no progress output", false);
  addDataOptions(command, "evaluate", true);
  addDetectionDataOptions(command);
  addStrictIdsOption(command);
  addBackendOptions(command).action(async (options: EvalOptions) => {
    setQuiet(options.quiet);
    if (!options.peft) {
      throw new UsageError(
        "eval needs --peft RUN: SAM has no semantic head until one is trained " +
          "(mopeft train --method decoder trains only the head)",
      );
    }
    await startBackend(options);
    const layout = await dataLayout(options);
    if (options.task) throw new UsageError("eval reads the task from the run; drop --task");
    const run = await openRun(options.checkpoint, options.peft);
    try {
      checkDatasetTask(run.model.head.task, layout, options, "evaluate");
      if (run.model.head.task === "detection") await evalDetection(options, run);
      else await evalSemantic(options, run);
    } finally {
      run.dispose();
    }
  });
}

/** The training split's held-out part under `--holdout`, else an evaluation split. */
function splitPurpose(options: EvalOptions): SplitPurpose {
  return options.holdout === undefined ? "evaluate" : "train";
}

async function evalDetection(options: EvalOptions, run: OpenRun): Promise<void> {
  const split = await loadTaskDetectionSplit(options, options.split, splitPurpose(options), {
    part: "heldOut",
    seed: options.seed,
  });
  checkStrictIds(split, options.strictIds);
  const imageSize = run.base.weights.architecture.encoder.imageSize;
  const progress = createProgress({
    label: "eval",
    total: shardImages(split, options.shard).length,
    unit: "image",
    quiet: options.quiet,
  });
  let done = 0;
  const result = await evaluateDetections((images) => run.model.detect(images), split, {
    size: imageSize,
    classNames: run.manifest.classNames,
    shard: options.shard,
    batchSize: options.batchSize,
    overlap: options.overlap ?? Math.floor(imageSize / 8),
    skipBad: options.skipBad,
    onSkip: (skipped) => log(`mopeft: skipped ${skipped.path}: ${skipped.reason}`),
    onImage: () => progress.update(++done),
    onWarning: printIdWarning,
  });
  progress.done();
  printJson({
    dataset: split.source,
    split: split.split,
    method: run.manifest.method,
    shard: options.shard ? `${options.shard.index}/${options.shard.count}` : undefined,
    tiles: result.tiles,
    seconds: Math.round(result.seconds * 1000) / 1000,
    ...result.report,
  });
}

async function evalSemantic(options: EvalOptions, run: OpenRun): Promise<void> {
  const split = await loadDataSplit(options, options.split, splitPurpose(options), {
    part: "heldOut",
    seed: options.seed,
  });
  const runClasses = run.manifest.classNames;
  const dataClasses = split.dataset.classNames;
  if (runClasses.length !== dataClasses.length) {
    throw new Error(
      `Cannot evaluate run "${options.peft}" on "${split.dataset.root}": the run has ${runClasses.length} classes, the dataset ${dataClasses.length}`,
    );
  }
  const imageSize = run.base.weights.architecture.encoder.imageSize;
  const reader = new SegmentationReader(split, { size: imageSize, skipBad: options.skipBad });
  const shardImages = options.shard
    ? split.pairs.filter((_, i) => i % options.shard!.count === options.shard!.index).length
    : split.pairs.length;
  const progress = createProgress({
    label: "eval",
    total: shardImages,
    unit: "image",
    quiet: options.quiet,
  });
  let done = 0;
  const result = await evaluate((images) => run.model.forward(images), reader, {
    shard: options.shard,
    batchSize: options.batchSize,
    overlap: options.overlap ?? Math.floor(imageSize / 8),
    onImage: () => progress.update(++done),
  });
  progress.done();
  printJson({
    dataset: split.dataset.id,
    split: split.dataset.split,
    method: run.manifest.method,
    shard: options.shard ? `${options.shard.index}/${options.shard.count}` : undefined,
    tiles: result.tiles,
    seconds: Math.round(result.seconds * 1000) / 1000,
    ...result.report,
  });
}
