/**
 * `mopeft merge-scores`: exact merge of score shards (summed confusion matrices for semantic
 * scores; pooled images, scored again, for detection scores).
 *
 * @module
 */
import type { Command } from "commander";
import { isDetectionReport, mergeDetectionReports } from "../lib/metrics/detection_report.ts";
import { mergeNamedScores } from "../lib/metrics/report.ts";
import { printJson, UsageError } from "./io.ts";
import { printIdWarning } from "./task_options.ts";

/** Registers `mopeft merge-scores`. */
export function registerMergeScores(program: Command): void {
  program.command("merge-scores")
    .description(
      "Merge score JSON files of disjoint parts of one split (from `mopeft score`, " +
        "`score-detections` or an evaluation) exactly: semantic scores by summing their " +
        "confusion matrices, detection scores by scoring their images together; print JSON",
    )
    .argument("<files...>", "score JSON files")
    .action(async (files: string[]) => {
      if (files.length === 0) throw new UsageError("merge-scores needs at least one file");
      const reports = [];
      for (const file of files) {
        reports.push({ report: await readJsonFile(file, "scores"), source: file });
      }
      const detection = reports.map(({ report }) => isDetectionReport(report));
      if (detection.some((d) => d !== detection[0])) {
        const other = reports[detection.indexOf(!detection[0])]!.source;
        throw new Error(
          `Cannot merge scores "${other}": it is a ${detection[0] ? "semantic" : "detection"} ` +
            `report, "${reports[0]!.source}" a ${detection[0] ? "detection" : "semantic"} one`,
        );
      }
      printJson(
        detection[0] ? mergeDetectionReports(reports, printIdWarning) : mergeNamedScores(reports),
      );
    });
}

/**
 * Reads a JSON file; a missing file or invalid JSON is one line naming the file and `what` it
 * should hold ("scores", "detections").
 */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new Error(`Cannot read ${what} "${path}": ${reason}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`Cannot read ${what} "${path}": not valid JSON`);
  }
}
