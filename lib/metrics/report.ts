/**
 * The JSON form of an evaluation: the scores plus what is needed to combine evaluations exactly
 * (the confusion matrix and the class names), so that shards scored on different machines merge
 * into the scores of the whole split.
 *
 * @module
 */
import { ConfusionMatrix } from "./confusion.ts";
import { computeScores } from "./scores.ts";
import type { SegmentationScores } from "./scores.ts";

/** Format tag of {@link ScoreReport}; bumped if the layout changes. */
export const SCORE_REPORT_FORMAT = "mopeft-scores-v1";

/** One evaluation's result, as written to JSON. */
export interface ScoreReport extends SegmentationScores {
  format: typeof SCORE_REPORT_FORMAT;
  classNames: string[];
  /** Number of images scored. */
  images: number;
  /** Per class, by name: IoU and accuracy in percent (`null` as in `iou` / `acc`). */
  perClass: { name: string; iou: number | null; acc: number | null }[];
  /** Classes of interest (indices), when the scores include CoI means. */
  classesOfInterest?: number[];
  /** `confusion[pred][gt]`: pixel counts over non-ignored pixels. */
  confusion: number[][];
}

/**
 * Builds the JSON report of a confusion matrix.
 *
 * @example
 * ```ts
 * import { ConfusionMatrix } from "./confusion.ts";
 * import { makeScoreReport } from "./report.ts";
 * const report = makeScoreReport(ConfusionMatrix.fromRows([[3, 1], [0, 4]]), {
 *   classNames: ["background", "tool"],
 *   images: 1,
 * });
 * report.miou; // 79.1...
 * ```
 */
export function makeScoreReport(
  matrix: ConfusionMatrix,
  options: { classNames: readonly string[]; images: number; classesOfInterest?: readonly number[] },
): ScoreReport {
  const { classNames, images, classesOfInterest } = options;
  if (classNames.length !== matrix.numClasses) {
    throw new RangeError(
      `${classNames.length} class names given for a ${matrix.numClasses}-class confusion matrix`,
    );
  }
  const scores = computeScores(matrix, { classesOfInterest });
  return {
    format: SCORE_REPORT_FORMAT,
    ...scores,
    classNames: [...classNames],
    images,
    perClass: classNames.map((name, c) => ({ name, iou: scores.iou[c]!, acc: scores.acc[c]! })),
    ...(classesOfInterest ? { classesOfInterest: [...classesOfInterest] } : {}),
    confusion: matrix.toRows(),
  };
}

/**
 * Validates parsed JSON as a {@link ScoreReport} and returns its confusion matrix with the class
 * names; `source` names the file in errors. Scores in the JSON are not trusted: they are
 * recomputed from the matrix when needed.
 *
 * @example
 * ```ts ignore
 * const shard = parseScoreReport(JSON.parse(await Deno.readTextFile("a.json")), "a.json");
 * ```
 */
export function parseScoreReport(
  value: unknown,
  source: string,
): {
  matrix: ConfusionMatrix;
  classNames: string[];
  images: number;
  classesOfInterest?: number[];
} {
  const fail = (problem: string): never => {
    throw new Error(`Cannot read scores "${source}": ${problem}`);
  };
  if (typeof value !== "object" || value === null) fail("not a JSON object");
  const report = value as Partial<ScoreReport>;
  if (report.format !== SCORE_REPORT_FORMAT) fail(`format is not "${SCORE_REPORT_FORMAT}"`);
  if (!Array.isArray(report.classNames) || !report.classNames.every((n) => typeof n === "string")) {
    fail("classNames is not a list of names");
  }
  if (!Number.isSafeInteger(report.images) || report.images! < 0) fail("images is not a count");
  if (!Array.isArray(report.confusion)) fail("confusion is not a matrix");
  let matrix: ConfusionMatrix;
  try {
    matrix = ConfusionMatrix.fromRows(report.confusion!);
  } catch (error) {
    return fail((error as Error).message);
  }
  if (matrix.numClasses !== report.classNames!.length) {
    fail(`${report.classNames!.length} class names for a ${matrix.numClasses}-class matrix`);
  }
  return {
    matrix,
    classNames: report.classNames!,
    images: report.images!,
    ...(Array.isArray(report.classesOfInterest)
      ? { classesOfInterest: report.classesOfInterest }
      : {}),
  };
}

/**
 * Merges reports of disjoint parts of one split by summing their confusion matrices (exact), and
 * rescoring. Refuses reports whose class counts or names differ.
 *
 * @example
 * ```ts ignore
 * const whole = mergeScores(shardA, shardB, shardC);
 * ```
 */
export function mergeScores(...reports: ScoreReport[]): ScoreReport {
  return mergeNamedScores(reports.map((report, i) => ({ report, source: `report ${i + 1}` })));
}

/**
 * {@link mergeScores} for reports that come from files: errors name each report's `source`.
 *
 * @example
 * ```ts ignore
 * const merged = mergeNamedScores([{ report: a, source: "a.json" }, { report: b, source: "b.json" }]);
 * ```
 */
export function mergeNamedScores(
  reports: readonly { report: unknown; source: string }[],
): ScoreReport {
  if (reports.length === 0) throw new RangeError("Merging scores needs at least one report");
  const parsed = reports.map(({ report, source }) => ({
    ...parseScoreReport(report, source),
    source,
  }));
  const first = parsed[0]!;
  const total = new ConfusionMatrix(first.matrix.numClasses);
  let images = 0;
  for (const part of parsed) {
    if (part.matrix.numClasses !== first.matrix.numClasses) {
      throw new Error(
        `Cannot merge scores "${part.source}": ${part.matrix.numClasses} classes, ` +
          `"${first.source}" has ${first.matrix.numClasses}`,
      );
    }
    const differing = part.classNames.findIndex((name, c) => name !== first.classNames[c]);
    if (differing >= 0) {
      throw new Error(
        `Cannot merge scores "${part.source}": class ${differing} is ` +
          `"${part.classNames[differing]}", in "${first.source}" it is ` +
          `"${first.classNames[differing]}"`,
      );
    }
    total.addMatrix(part.matrix);
    images += part.images;
  }
  return makeScoreReport(total, {
    classNames: first.classNames,
    images,
    classesOfInterest: first.classesOfInterest,
  });
}
