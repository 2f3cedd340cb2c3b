/**
 * The task of a command (semantic segmentation or detection): `--task` on `train`, else what the
 * dataset's layout says; the detection dataset options (`--images`, `--annotations`); one-line
 * errors for a run given a dataset of the other task.
 *
 * @module
 */
import { type Command, Option } from "commander";
import {
  type DatasetLayout,
  detectionLayout,
  loadDetectionSplit,
} from "../lib/data/detection_layout.ts";
import type { DetectionSplit } from "../lib/data/detection_split.ts";
import { splitHoldout } from "../lib/data/holdout.ts";
import { cocoIdProblems, describeCocoIdProblems } from "../lib/data/coco_ids.ts";
import { describeSplit, type SplitPurpose } from "../lib/data/split_choice.ts";
import type { HeadConfig } from "../lib/decoder/head.ts";
import { log, logError, UsageError } from "./io.ts";
import { nameList } from "./options.ts";

/** What a run learns. */
export type Task = HeadConfig["task"];

/** The options that name a dataset, as far as the task depends on them. */
export interface TaskDataOptions {
  task?: Task;
  data?: string;
  dataset?: string;
  split?: string;
  images?: string;
  annotations?: string;
  /** A seeded, image-level hold-out carved from the split (as for semantic data). */
  holdout?: number;
  /** FAIR-1M-layout data: the classes, in this order. */
  classes?: string[];
}

/** `--classes`' help: how FAIR-1M-layout data gets its classes. */
export const CLASSES_HELP = "FAIR-1M-layout data: its classes, in this order (default: the " +
  "training split's names, sorted; FAIR-1M's 37 and categories when every name is one of them)";

/**
 * Adds `--images` and `--annotations` (a COCO annotation file and its images folder) and
 * `--classes` (FAIR-1M-layout data).
 */
export function addDetectionDataOptions(command: Command): Command {
  return command
    .option("--images <dir>", "detection: folder of the images a COCO annotation file names")
    .option("--annotations <file>", "detection: COCO instances JSON (with --images)")
    .option("--classes <a,b,c>", `detection: ${CLASSES_HELP}`, nameList);
}

/** Adds `--task` (train only: other commands read the task from the run). */
export function addTaskOption(command: Command): Command {
  return command.addOption(
    new Option("--task <task>", "semantic or detection (default: from the dataset's layout)")
      .choices(["semantic", "detection"]),
  );
}

/** The layout of the named dataset: `files` for `--images`/`--annotations`, `semantic` for `--dataset`. */
export async function dataLayout(options: TaskDataOptions): Promise<DatasetLayout | "files"> {
  if (options.images !== undefined || options.annotations !== undefined) return "files";
  if (options.data !== undefined) return await detectionLayout(options.data);
  return "semantic";
}

/** What a layout holds, for messages. */
export function describeLayout(layout: DatasetLayout | "files"): string {
  switch (layout) {
    case "coco":
    case "files":
      return "a COCO detection dataset";
    case "fair1m":
      return "a FAIR-1M detection dataset";
    case "semantic":
      return "a semantic segmentation dataset";
    default:
      return "a folder of no known layout";
  }
}

/** The task a dataset layout is for (`unknown` goes to semantic, whose reader names the problem). */
export function layoutTask(layout: DatasetLayout | "files"): Task {
  return layout === "coco" || layout === "fair1m" || layout === "files" ? "detection" : "semantic";
}

/**
 * The task of `train`: `--task` when given (checked against the dataset), else the layout's.
 * A dataset of the other task is a one-line error.
 */
export async function trainingTask(options: TaskDataOptions): Promise<Task> {
  const layout = await dataLayout(options);
  const task = options.task ?? layoutTask(layout);
  checkDatasetTask(task, layout, options, "train");
  return task;
}

/**
 * Throws a one-line `Error` when the dataset named by `options` is not for `task` (a semantic
 * run given a detection dataset, or the reverse).
 */
export function checkDatasetTask(
  task: Task,
  layout: DatasetLayout | "files",
  options: TaskDataOptions,
  what: string,
): void {
  if (layoutTask(layout) === task || layout === "unknown" && task === "semantic") return;
  const where = options.annotations ?? options.data ?? options.dataset ?? "the dataset";
  const runKind = task === "detection" ? "an object-detection run" : "a semantic segmentation run";
  throw new Error(`Cannot ${what} ${runKind} on "${where}": it is ${describeLayout(layout)}`);
}

/**
 * Loads the detection split the options name (`--data DIR` or `--images` + `--annotations`):
 * `split`, or without it the one `purpose` takes (named on stderr); with `--holdout F` and a
 * `part`, that part of a seeded image-level hold-out (the same images for the same seed, as
 * `train` and `eval` need).
 */
export async function loadTaskDetectionSplit(
  options: TaskDataOptions,
  split: string | undefined,
  purpose: SplitPurpose,
  holdout?: { part: "train" | "heldOut"; seed: number },
): Promise<DetectionSplit> {
  if (options.dataset !== undefined) {
    throw new UsageError("--dataset names a MESS (semantic) dataset; detection takes --data DIR");
  }
  const whole = await loadDetectionSplit({
    data: options.data,
    split,
    purpose,
    images: options.images,
    annotations: options.annotations,
    classes: options.classes,
  });
  if (options.annotations === undefined && options.data !== undefined) {
    log(describeSplit(options.data, whole.split, split !== undefined, purpose));
  }
  if (whole.classesNote) log(whole.classesNote);
  if (options.holdout === undefined || !holdout) return whole;
  const parts = splitHoldout(whole.images, {
    fraction: options.holdout,
    seed: holdout.seed,
    key: (image) => image.file,
  });
  return { ...whole, images: parts[holdout.part] };
}

/** Adds `--strict-ids` (commands that score COCO ground truth). */
export function addStrictIdsOption(command: Command): Command {
  return command.option(
    "--strict-ids",
    "detection: refuse ground truth whose annotation ids are 0 or repeat (without it: scored as " +
      "pycocotools scores them, with a warning saying what that costs)",
  );
}

/**
 * Under `--strict-ids`, a one-line error when the split's annotation ids are 0 or repeat; else
 * nothing (the scorer warns, through {@link printIdWarning}).
 */
export function checkStrictIds(split: DetectionSplit, strict: boolean | undefined): void {
  if (!strict) return;
  const problems = cocoIdProblems(split.images);
  if (problems) {
    throw new Error(
      `Cannot score "${split.source}" with --strict-ids: ${describeCocoIdProblems(problems)}`,
    );
  }
}

/** Prints the scorer's warning about annotation ids (never silenced: it changes the scores). */
export function printIdWarning(message: string): void {
  logError(`mopeft: warning: ${message}`);
}
