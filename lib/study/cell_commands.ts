/**
 * The `mopeft` command lines that make up one cell: train (fresh or resumed), eval, and for gated
 * methods inspect-gates. They are plain argument lists, run as child processes and stored in
 * `cell.json`, so any cell can be rerun by hand.
 *
 * @module
 */
import { findDataset } from "../data/registry.ts";
import { METHODS } from "../peft/registry.ts";
import type { StudyCell } from "./cells.ts";
import { optionFlags } from "./option_keys.ts";
import { BASELINE, methodTrainOptions, type Study, type StudyDataset } from "./study_file.ts";

/** A cell's command lines (arguments after the `mopeft` program). */
export interface CellCommands {
  /** Trains from scratch into `runDir`. */
  train: string[];
  /** Continues an interrupted training run in `runDir`. */
  resume: string[];
  /** Scores the run; its stdout is `eval.json`. */
  eval: string[];
  /** For gated methods: the gate report (stdout is `gates.json`) and `gates.svg`. */
  gates?: string[];
}

/** Train options a zero-step run ignores, left out of the baseline's command line. */
const BASELINE_DROPPED = ["epochs", "steps", "val-split", "val-every", "save-every"];

/**
 * Builds the command lines of `cell`, writing into `cellFolder`.
 *
 * `baseline` trains `decoder` for zero steps: the semantic head as initialised from SAM's
 * pretrained mask tokens, with no update, which is what "vanilla SAM" means for a semantic head.
 *
 * @example
 * ```ts ignore
 * const commands = cellCommands(study, cell, "out/cells/deepcrack/lora/seed-0");
 * commands.train; // ["train", "--checkpoint", ..., "--method", "lora", "--seed", "0", ...]
 * ```
 */
export function cellCommands(study: Study, cell: StudyCell, cellFolder: string): CellCommands {
  const runDir = `${cellFolder}/run`;
  const options = methodTrainOptions(study, cell.method);
  const baseline = cell.method.method === BASELINE;
  const trainOptions: Record<string, unknown> = {
    ...options,
    split: trainSplitOf(options, cell.dataset),
  };
  if (baseline) { for (const key of BASELINE_DROPPED) delete trainOptions[key]; }
  const data = datasetFlags(cell.dataset);
  const seed = ["--seed", String(cell.seed)];
  const checkpoint = ["--checkpoint", study.checkpoint];
  const train = [
    "train",
    ...checkpoint,
    ...data,
    "--method",
    baseline ? "decoder" : cell.method.method,
    ...seed,
    "--out",
    runDir,
    ...(baseline ? ["--steps", "0"] : []),
    ...optionFlags(trainOptions),
  ];
  // The same line with --resume: train keeps the settings stored in the run and reads the same
  // split (and hold-out part) again.
  const resume = [...train, "--resume"];
  // Scored on the run's hold-out when it has one; otherwise on the study's eval split.
  const scoring = options.holdout !== undefined
    ? { split: trainOptions.split, holdout: options.holdout }
    : { split: evalSplitOf(study, cell.dataset) };
  const evalOptions = { ...study.eval, ...scoring };
  const evalArgs = [
    "eval",
    ...checkpoint,
    ...data,
    "--peft",
    runDir,
    ...seed,
    ...optionFlags(evalOptions),
  ];
  const commands: CellCommands = { train, resume, eval: evalArgs };
  if (cell.method.method !== BASELINE && METHODS[cell.method.method].gated) {
    commands.gates = [
      "inspect-gates",
      ...checkpoint,
      ...data,
      "--peft",
      runDir,
      ...seed,
      "--svg",
      `${cellFolder}/gates.svg`,
      ...optionFlags(pick(evalOptions, ["split", "holdout", "skip-bad", "backend", "batch-size"])),
    ];
  }
  return commands;
}

/**
 * The split a cell trains on: the study's `train.split`, else a MESS dataset's own (first) split
 * (MESS ships evaluation splits only, so studies carve a hold-out from it), else `train`.
 */
export function trainSplitOf(options: Record<string, unknown>, dataset: StudyDataset): string {
  return (options.split as string | undefined) ?? defaultSplit(dataset, "train");
}

/** The split a cell is scored on when it has no hold-out: `eval.split`, else as for training. */
export function evalSplitOf(study: Study, dataset: StudyDataset): string {
  return (study.eval.split as string | undefined) ?? defaultSplit(dataset, "test");
}

function defaultSplit(dataset: StudyDataset, userDefault: string): string {
  const spec = dataset.dataset !== undefined ? findDataset(dataset.dataset) : undefined;
  return spec ? Object.keys(spec.splits)[0]! : userDefault;
}

/** The flags that name a study dataset on the command line. */
export function datasetFlags(dataset: StudyDataset): string[] {
  const flags = dataset.dataset !== undefined
    ? ["--dataset", dataset.dataset, "--root", dataset.root!]
    : ["--data", dataset.data!];
  if (dataset.variant !== undefined) flags.push("--variant", dataset.variant);
  return flags;
}

/**
 * A command line as one shell line, every argument quoted where the shell would split or expand
 * it.
 *
 * @example
 * ```ts
 * shellLine(["mopeft", "eval", "--data", "my data"]); // "mopeft eval --data 'my data'"
 * ```
 */
export function shellLine(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}

function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function pick(values: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
}
