/**
 * Measured speeds of a cell: seconds per training step from the run's `metrics.jsonl`, seconds
 * per evaluated image from `eval.json`.
 *
 * @module
 */
import { METRICS_FILE } from "../run/run_folder.ts";

/**
 * Seconds per training step over the logged lines of a run: the time between consecutive lines
 * divided by the steps between them, summed over the run. `seconds` restarts at a resume, so a
 * pair that goes back in time is skipped; the span before the first line (start-up and the first,
 * compiling, step) counts only when a run logged a single line. `null` for a run of no step.
 *
 * @example
 * ```ts
 * secondsPerStepOf([
 *   { step: 10, seconds: 12 }, { step: 20, seconds: 22 }, { step: 30, seconds: 32 },
 * ]); // 1
 * ```
 */
export function secondsPerStepOf(
  lines: ReadonlyArray<{ step: number; seconds: number }>,
): number | null {
  let seconds = 0;
  let steps = 0;
  for (let i = 1; i < lines.length; i++) {
    const dSteps = lines[i]!.step - lines[i - 1]!.step;
    const dSeconds = lines[i]!.seconds - lines[i - 1]!.seconds;
    if (dSteps > 0 && dSeconds > 0) {
      seconds += dSeconds;
      steps += dSteps;
    }
  }
  if (steps > 0) return seconds / steps;
  const only = lines[0];
  return only && only.step > 0 ? only.seconds / only.step : null;
}

/** Reads `metrics.jsonl` of a run folder and measures it; `null` when there is none. */
export async function runSecondsPerStep(runDir: string): Promise<number | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${runDir}/${METRICS_FILE}`);
  } catch {
    return null;
  }
  const lines = text.split("\n").filter((line) => line.trim()).flatMap((line) => {
    try {
      const record = JSON.parse(line);
      return typeof record.step === "number" && typeof record.seconds === "number" ? [record] : [];
    } catch {
      return [];
    }
  });
  return secondsPerStepOf(lines);
}

/**
 * Seconds per image of an `eval` report (its `seconds` over its `images`).
 *
 * @example
 * ```ts
 * secondsPerImageOf({ seconds: 6, images: 4 }); // 1.5
 * ```
 */
export function secondsPerImageOf(report: { seconds?: unknown; images?: unknown }): number | null {
  const { seconds, images } = report;
  return typeof seconds === "number" && typeof images === "number" && images > 0
    ? seconds / images
    : null;
}
