/**
 * The options that name a dataset and split (`--data`, `--dataset`/`--root`, `--split`, ...).
 *
 * @module
 */
import type { Command } from "commander";
import { resolveDataset } from "../lib/data/resolve.ts";
import { type DatasetSplit, loadSplit } from "../lib/data/split.ts";
import { describeSplit, type SplitPurpose } from "../lib/data/split_choice.ts";
import { verifySplit } from "../lib/data/verify_split.ts";
import { log } from "./io.ts";
import { openFraction } from "./options.ts";
import { createProgress } from "./progress.ts";

/** The data options as commander parses them. */
export interface DataOptions {
  data?: string;
  dataset?: string;
  root?: string;
  split?: string;
  variant?: string;
  holdout?: number;
  skipBad?: boolean;
}

/**
 * The `--split` help of a command that reads a dataset `for` a purpose: the rule of
 * `split_choice.ts`, as the user meets it.
 */
export function splitHelp(purpose: SplitPurpose, holdoutFromTraining = false): string {
  if (purpose === "train") {
    return "split to train on (default: train, else an error listing the splits)";
  }
  return "split to use (default: test when the data has it, else its one evaluation split such as " +
    "val, else an error listing the splits; train only when named" +
    (holdoutFromTraining ? "; with --holdout: the training split's held-out part)" : ")");
}

/**
 * Adds the dataset options to `command`; `purpose` sets the default split (`--split`'s help),
 * `holdoutFromTraining` says that with `--holdout` it is the training split's.
 */
export function addDataOptions(
  command: Command,
  purpose: SplitPurpose,
  holdoutFromTraining = false,
): Command {
  return command
    .option("--data <dir>", "dataset folder: <MESS root>/<dataset folder>, or your own dataset")
    .option("--dataset <id>", "MESS dataset id (see `mopeft datasets`), with --root")
    .option("--root <dir>", "MESS root folder holding the dataset folders")
    .option("--split <name>", splitHelp(purpose, holdoutFromTraining))
    .option("--variant <name>", "dataset variant (PAXRay label set, irrg/rgb, PST900 modality)")
    .option(
      "--holdout <fraction>",
      "carve a seeded file-level hold-out from the split",
      openFraction,
    )
    .option("--skip-bad", "skip unreadable files (logged and counted) instead of failing", false);
}

/**
 * Resolves and lists a split: `split`, or without it the one `purpose` takes (named on stderr).
 * With `holdout`, `part` picks the training part or the held-out one of the split, seeded by
 * `seed`.
 */
export async function loadDataSplit(
  options: DataOptions,
  split: string | undefined,
  purpose: SplitPurpose,
  holdout?: { part: "train" | "heldOut"; seed: number },
): Promise<DatasetSplit> {
  const dataset = await resolveDataset({
    data: options.data,
    dataset: options.dataset,
    root: options.root,
    split,
    purpose,
    variant: options.variant,
  });
  log(describeSplit(dataset.root, dataset.split, split !== undefined, purpose));
  return await loadSplit(dataset, {
    skipBad: options.skipBad,
    onSkip: (skipped) => log(`mopeft: skipped ${skipped.path}: ${skipped.reason}`),
    holdout: options.holdout !== undefined && holdout
      ? { fraction: options.holdout, seed: holdout.seed, part: holdout.part }
      : undefined,
  });
}

/**
 * Decodes every image and label of `split` before any work starts (a corrupt file is a one-line
 * error naming it, or under `--skip-bad` a logged skip), with progress on stderr.
 */
export async function checkDataSplit(
  split: DatasetSplit,
  options: DataOptions & { quiet?: boolean },
): Promise<DatasetSplit> {
  const progress = createProgress({
    label: "check files",
    total: split.pairs.length,
    unit: "image",
    quiet: options.quiet,
  });
  const checked = await verifySplit(split, {
    skipBad: options.skipBad,
    onSkip: (skipped) => log(`mopeft: skipped ${skipped.path}: ${skipped.reason}`),
    onChecked: (done) => progress.update(done),
  });
  progress.done();
  return checked;
}
