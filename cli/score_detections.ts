/**
 * `mopeft score-detections`: COCO box AP/AR and the DOTA/FAIR-1M VOC07 mAP of a COCO results
 * file from any detector, against a COCO instances file or a detection dataset folder.
 *
 * @module
 */
import type { Command } from "commander";
import { readCocoSplit } from "../lib/data/coco.ts";
import { cocoResultsToEval } from "../lib/data/coco_results.ts";
import { loadDetectionSplit } from "../lib/data/detection_layout.ts";
import { describeSplit } from "../lib/data/split_choice.ts";
import type { DetectionSplit } from "../lib/data/detection_split.ts";
import { makeDetectionReport } from "../lib/metrics/detection_report.ts";
import { splitHelp } from "./data_options.ts";
import { log, printJson, UsageError } from "./io.ts";
import { nameList } from "./options.ts";
import {
  addStrictIdsOption,
  checkStrictIds,
  CLASSES_HELP,
  printIdWarning,
} from "./task_options.ts";
import { readJsonFile } from "./merge_scores.ts";

interface ScoreDetectionsOptions {
  gt: string;
  dets: string;
  split?: string;
  classes?: string[];
  strictIds?: boolean;
}

/** Registers `mopeft score-detections`. */
export function registerScoreDetections(program: Command): void {
  const command = program.command("score-detections")
    .description(
      "Score a COCO results file ([{image_id, category_id, bbox, score}]) against ground truth: " +
        "COCO box AP/AR as pycocotools computes them and the VOC07 mAP at IoU 0.5 of DOTA and " +
        "FAIR-1M, per class and category, in percent, as JSON",
    )
    .requiredOption(
      "--gt <file|dir>",
      "COCO instances JSON, or a COCO- or FAIR-1M-layout dataset folder",
    )
    .requiredOption("--dets <file>", "COCO results JSON")
    .option("--split <name>", `with a dataset folder: ${splitHelp("evaluate")}`)
    .option("--classes <a,b,c>", CLASSES_HELP, nameList);
  addStrictIdsOption(command)
    .action(async (options: ScoreDetectionsOptions) => {
      const split = await readGroundTruth(options);
      checkStrictIds(split, options.strictIds);
      const images = cocoResultsToEval(
        await readJsonFile(options.dets, "detections"),
        split,
        options.dets,
      );
      printJson(makeDetectionReport(images, {
        classNames: split.classNames,
        ...(split.categories ? { categories: split.categories } : {}),
        groundTruth: split.source,
        onWarning: printIdWarning,
      }));
    });
}

async function readGroundTruth(options: ScoreDetectionsOptions): Promise<DetectionSplit> {
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(options.gt)).isDirectory;
  } catch {
    throw new Error(`Cannot read ground truth "${options.gt}": file not found`);
  }
  if (isDirectory) {
    const split = await loadDetectionSplit({
      data: options.gt,
      split: options.split,
      purpose: "evaluate",
      classes: options.classes,
    });
    log(describeSplit(options.gt, split.split, options.split !== undefined, "evaluate"));
    if (split.classesNote) log(split.classesNote);
    return split;
  }
  if (options.classes) {
    throw new UsageError(
      `--classes is for FAIR-1M-layout folders; "${options.gt}" is a COCO file, which lists its categories`,
    );
  }
  return await readCocoSplit({
    annotations: options.gt,
    imagesDir: null,
    split: options.split ?? "gt",
  });
}
