/**
 * `mopeft merge-scores`: exact merge of score shards (summed confusion matrices).
 *
 * @module
 */
import type { Command } from "commander";
import { mergeNamedScores } from "../lib/metrics/report.ts";
import { printJson, UsageError } from "./io.ts";

/** Registers `mopeft merge-scores`. */
export function registerMergeScores(program: Command): void {
  program.command("merge-scores")
    .description(
      "Merge score JSON files of disjoint parts of one split (from `mopeft score` or an " +
        "evaluation) by summing their confusion matrices, and print the merged scores as JSON",
    )
    .argument("<files...>", "score JSON files")
    .action(async (files: string[]) => {
      if (files.length === 0) throw new UsageError("merge-scores needs at least one file");
      const reports = [];
      for (const file of files) reports.push({ report: await readJson(file), source: file });
      printJson(mergeNamedScores(reports));
    });
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new Error(`Cannot read scores "${path}": ${reason}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`Cannot read scores "${path}": not valid JSON`);
  }
}
