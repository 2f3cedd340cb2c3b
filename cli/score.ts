/**
 * `mopeft score`: MESS's scores of prediction PNGs against ground-truth PNGs.
 *
 * @module
 */
import type { Command } from "commander";
import { readClassNames } from "../lib/data/resolve.ts";
import { scoreLabelFolders } from "../lib/metrics/score_folders.ts";
import { printJson, UsageError } from "./io.ts";

interface ScoreOptions {
  pred: string;
  gt: string;
  numClasses: string;
  classNames?: string;
}

/** Registers `mopeft score`. */
export function registerScore(program: Command): void {
  program.command("score")
    .description(
      "Score predicted class-map PNGs against ground-truth label PNGs (matched by file name) " +
        "as MESS does, and print the scores with the confusion matrix as JSON",
    )
    .requiredOption("--pred <dir>", "folder of predicted class maps (single-channel PNG)")
    .requiredOption("--gt <dir>", "folder of ground-truth label PNGs (255 = ignore)")
    .requiredOption("--num-classes <n>", "number of classes")
    .option("--class-names <file>", "JSON array of class names (default: class indices)")
    .action(async (options: ScoreOptions) => {
      const numClasses = parseClassCount(options.numClasses);
      let classNames = Array.from({ length: numClasses }, (_, c) => String(c));
      if (options.classNames !== undefined) {
        classNames = await readClassNames(options.classNames);
        if (classNames.length !== numClasses) {
          throw new Error(
            `Cannot use class names "${options.classNames}": ${classNames.length} names, ` +
              `--num-classes is ${numClasses}`,
          );
        }
      }
      printJson(await scoreLabelFolders(options.pred, options.gt, { classNames }));
    });
}

function parseClassCount(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isInteger(value) || value < 1 || value > 255) {
    throw new UsageError(`--num-classes must be an integer from 1 to 255, got "${text}"`);
  }
  return value;
}
