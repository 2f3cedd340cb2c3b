/**
 * The JSON form of a detection evaluation: COCO box AP/AR (pycocotools' rules, see
 * `coco_eval.ts`), the DOTA/FAIR-1M VOC07 mAP at IoU 0.5 (`voc07.ts`), per class and per class
 * category, in percent, plus every scored image's ground truth and detections, so that shards
 * scored apart merge into exactly the scores of the whole split (AP does not average).
 *
 * Category means come twice: `categoryMeans` leaves each category's catch-all `other-*` classes
 * out, as the thesis's Table A.1 does (Airplane's baseline 49.83 is the mean of its 10 named
 * types), and `categoryMeansAll` counts every class.
 *
 * @module
 */
import { cocoIdProblems, describeCocoIdProblems } from "../data/coco_ids.ts";
import { classNameKey } from "../data/detection_classes.ts";
import type { ClassCategory, DetectionObject } from "../data/detection_split.ts";
import { cocoEvaluate } from "./coco_eval.ts";
import type { EvalImage, ScoredDetection } from "../data/detections.ts";
import type { CocoEvalResult } from "./coco_eval.ts";
import { voc07ApPerClass } from "./voc07.ts";

/** Format tag of {@link DetectionReport}; bumped if the layout changes. */
export const DETECTION_REPORT_FORMAT = "mopeft-detection-scores-v1";

/** Scores of one class, in percent (`null`: no ground truth to score). */
export interface ClassDetectionScores {
  name: string;
  ap: number | null;
  ap50: number | null;
  voc07Ap50: number | null;
}

/** What `categoryMeans` and `categoryMeansAll` are, as the JSON says it. */
export const CATEGORY_MEANS_NOTE =
  "categoryMeans: each category's mean over its classes with ground truth, its other-* classes " +
  "left out (as the thesis's Table A.1); categoryMeansAll: the same over all its classes";

/** Mean scores of a class category over its classes that have ground truth, in percent. */
export interface CategoryDetectionScores {
  name: string;
  ap: number | null;
  ap50: number | null;
  voc07Map50: number | null;
}

/**
 * One scored image, compact: objects as `[classIndex, x, y, w, h, area, flags]` or, with their
 * COCO annotation id, `[classIndex, x, y, w, h, area, flags, id]` (flags: 1 crowd, 2 difficult,
 * 4 a repeated id's kept annotation, 8 a repeated id's other one) and detections as
 * `[classIndex, x, y, w, h, score]`.
 */
export interface ReportImage {
  id: number;
  objects: number[][];
  detections: number[][];
}

/** A detection evaluation as written to JSON; scores in percent, `null` where nothing scored. */
export interface DetectionReport extends Omit<CocoEvalResult, "perClassAp" | "perClassAp50"> {
  format: typeof DETECTION_REPORT_FORMAT;
  task: "detection";
  /** DOTA/FAIR-1M mAP: mean over classes with ground truth of the VOC07 AP at IoU > 0.5. */
  voc07Map50: number | null;
  perClass: ClassDetectionScores[];
  /** Per category, without its `other-*` classes (the thesis's Table A.1 means). */
  categoryMeans: CategoryDetectionScores[];
  /** Per category, over all its classes. */
  categoryMeansAll: CategoryDetectionScores[];
  /** {@link CATEGORY_MEANS_NOTE}, present with the categories. */
  categoryMeansNote?: string;
  classNames: string[];
  categories?: ClassCategory[];
  /** Number of images scored. */
  images: number;
  /** What an exact merge needs: each image's ground truth and detections. */
  evaluation: ReportImage[];
}

/** Options of {@link makeDetectionReport}. */
export interface DetectionReportOptions {
  classNames: readonly string[];
  categories?: readonly ClassCategory[];
  /**
   * Told, in one line, when annotation ids are zero or repeat (pycocotools' rules on them change
   * the COCO scores: `coco_ids.ts`), with the scores unique ids would give.
   */
  onWarning?: (message: string) => void;
  /** The ground truth's file, for that line. */
  groundTruth?: string;
}

/**
 * Scores detections and builds the JSON report.
 *
 * @example
 * ```ts
 * import { makeDetectionReport } from "./detection_report.ts";
 * const truth = { classIndex: 0, bbox: [0, 0, 10, 10] as [number, number, number, number],
 *   area: 100, iscrowd: false, difficult: false };
 * const report = makeDetectionReport([{
 *   id: 1,
 *   objects: [truth],
 *   detections: [{ classIndex: 0, bbox: [0, 0, 10, 10], score: 0.9 }],
 * }], { classNames: ["car", "ship"] });
 * report.ap50; // 100
 * report.perClass[1]!.ap; // null: no ship to find
 * ```
 */
export function makeDetectionReport(
  images: readonly EvalImage[],
  options: DetectionReportOptions,
): DetectionReport {
  const { classNames, categories } = options;
  const numClasses = classNames.length;
  const ids = new Set<number>();
  for (const image of images) {
    if (ids.has(image.id)) throw new RangeError(`Image id ${image.id} is scored twice`);
    ids.add(image.id);
    for (const item of [...image.objects, ...image.detections]) {
      if (
        !Number.isInteger(item.classIndex) || item.classIndex < 0 || item.classIndex >= numClasses
      ) {
        throw new RangeError(
          `Image ${image.id}: class index ${item.classIndex} outside 0..${numClasses - 1}`,
        );
      }
    }
  }
  const coco = cocoEvaluate(images, numClasses);
  const idProblems = options.onWarning ? cocoIdProblems(images) : null;
  if (idProblems) {
    const unique = cocoEvaluate(images, numClasses, { ids: "unique" });
    const scores = (r: CocoEvalResult) => `AP ${fixed(r.ap)}, AP50 ${fixed(r.ap50)}`;
    options.onWarning!(
      `${options.groundTruth ? `"${options.groundTruth}": ` : ""}` +
        `${describeCocoIdProblems(idProblems)}; scored as pycocotools does (a match on id 0 is a ` +
        "false positive, a repeated id stands for its last annotation): " +
        `${scores(coco)}, against ${scores(unique)} with unique non-zero ids ` +
        "(--strict-ids refuses such files)",
    );
  }
  const voc = voc07ApPerClass(images, numClasses);
  const perClass = classNames.map((name, k) => ({
    name,
    ap: percent(coco.perClassAp[k]!),
    ap50: percent(coco.perClassAp50[k]!),
    voc07Ap50: percent(voc[k]!),
  }));
  const categoryMean = (category: ClassCategory, withOther: boolean) => {
    const members = category.classIndices.map((k) => perClass[k]!)
      .filter((c) => withOther || !isOtherClass(c.name));
    return {
      name: category.name,
      ap: meanOf(members.map((c) => c.ap)),
      ap50: meanOf(members.map((c) => c.ap50)),
      voc07Map50: meanOf(members.map((c) => c.voc07Ap50)),
    };
  };
  const sorted = [...images].sort((a, b) => a.id - b.id);
  return {
    format: DETECTION_REPORT_FORMAT,
    task: "detection",
    ap: percent(coco.ap),
    ap50: percent(coco.ap50),
    ap75: percent(coco.ap75),
    apSmall: percent(coco.apSmall),
    apMedium: percent(coco.apMedium),
    apLarge: percent(coco.apLarge),
    ar1: percent(coco.ar1),
    ar10: percent(coco.ar10),
    ar100: percent(coco.ar100),
    arSmall: percent(coco.arSmall),
    arMedium: percent(coco.arMedium),
    arLarge: percent(coco.arLarge),
    voc07Map50: meanOf(perClass.map((c) => c.voc07Ap50)),
    perClass,
    categoryMeans: (categories ?? []).map((c) => categoryMean(c, false)),
    categoryMeansAll: (categories ?? []).map((c) => categoryMean(c, true)),
    ...(categories ? { categoryMeansNote: CATEGORY_MEANS_NOTE } : {}),
    classNames: [...classNames],
    ...(categories
      ? { categories: categories.map((c) => ({ name: c.name, classIndices: [...c.classIndices] })) }
      : {}),
    images: images.length,
    evaluation: sorted.map(packImage),
  };
}

/**
 * Whether a class is a category's catch-all (`other-airplane`, `Other Ship`, `others`): left out of
 * {@link DetectionReport.categoryMeans}.
 *
 * @example
 * ```ts
 * import { isOtherClass } from "./detection_report.ts";
 * isOtherClass("other-vehicle"); // true
 * isOtherClass("Boeing737"); // false
 * ```
 */
export function isOtherClass(name: string): boolean {
  return classNameKey(name).startsWith("other");
}

/** Whether parsed JSON is a detection report (by its format tag), not a semantic one. */
export function isDetectionReport(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    (value as { format?: unknown }).format === DETECTION_REPORT_FORMAT;
}

/**
 * Validates parsed JSON as a {@link DetectionReport} and returns what scoring needs; `source`
 * names the file in errors. Its scores are not trusted: merging recomputes them.
 *
 * @example
 * ```ts ignore
 * const shard = parseDetectionReport(JSON.parse(await Deno.readTextFile("a.json")), "a.json");
 * ```
 */
export function parseDetectionReport(value: unknown, source: string): {
  classNames: string[];
  categories?: ClassCategory[];
  images: EvalImage[];
} {
  const fail: (problem: string) => never = (problem) => {
    throw new Error(`Cannot read scores "${source}": ${problem}`);
  };
  if (typeof value !== "object" || value === null) fail("not a JSON object");
  const report = value as Partial<DetectionReport>;
  if (report.format !== DETECTION_REPORT_FORMAT) fail(`format is not "${DETECTION_REPORT_FORMAT}"`);
  const classNames = report.classNames;
  if (
    !Array.isArray(classNames) || classNames.length === 0 ||
    !classNames.every((n) => typeof n === "string")
  ) {
    fail("classNames is not a list of names");
  }
  const numClasses = classNames!.length;
  const validClass = (k: unknown) =>
    Number.isInteger(k) && (k as number) >= 0 && (k as number) < numClasses;
  let categories: ClassCategory[] | undefined;
  if (report.categories !== undefined) {
    if (
      !Array.isArray(report.categories) ||
      !report.categories.every((c) =>
        typeof c?.name === "string" && Array.isArray(c.classIndices) &&
        c.classIndices.every(validClass)
      )
    ) {
      fail("categories is not a list of {name, classIndices}");
    }
    categories = report.categories;
  }
  if (!Array.isArray(report.evaluation)) fail("evaluation is not a list of images");
  const finite = (row: unknown, length: number) =>
    Array.isArray(row) && row.length === length && row.every(Number.isFinite) && validClass(row[0]);
  const images = report.evaluation!.map((image, i): EvalImage => {
    if (
      typeof image !== "object" || image === null || !Number.isSafeInteger(image.id) ||
      !Array.isArray(image.objects) || !Array.isArray(image.detections) ||
      !image.objects.every((row) => finite(row, 7) || finite(row, 8)) ||
      !image.detections.every((row) => finite(row, 6))
    ) {
      return fail(`evaluation entry ${i} is not an image with objects and detections`);
    }
    return unpackImage(image);
  });
  return { classNames: classNames!, ...(categories ? { categories } : {}), images };
}

/**
 * Merges detection reports of disjoint parts of one split exactly: their images are pooled and
 * scored again. Refuses reports whose class names differ or that share an image.
 *
 * @example
 * ```ts ignore
 * const merged = mergeDetectionReports([{ report: a, source: "a.json" }, { report: b, source: "b.json" }]);
 * ```
 */
export function mergeDetectionReports(
  reports: readonly { report: unknown; source: string }[],
  onWarning?: (message: string) => void,
): DetectionReport {
  if (reports.length === 0) throw new RangeError("Merging scores needs at least one report");
  const parsed = reports.map(({ report, source }) => ({
    ...parseDetectionReport(report, source),
    source,
  }));
  const first = parsed[0]!;
  const images: EvalImage[] = [];
  const owner = new Map<number, string>();
  for (const part of parsed) {
    const same = part.classNames.length === first.classNames.length &&
      part.classNames.every((name, k) => name === first.classNames[k]);
    if (!same) {
      throw new Error(
        `Cannot merge scores "${part.source}": its classes differ from "${first.source}"'s`,
      );
    }
    for (const image of part.images) {
      const other = owner.get(image.id);
      if (other !== undefined) {
        throw new Error(
          `Cannot merge scores "${part.source}": image ${image.id} is also in "${other}"`,
        );
      }
      owner.set(image.id, part.source);
      images.push(image);
    }
  }
  return makeDetectionReport(images, {
    classNames: first.classNames,
    ...(first.categories ? { categories: first.categories } : {}),
    ...(onWarning ? { onWarning } : {}),
  });
}

function packImage(image: EvalImage): ReportImage {
  return {
    id: image.id,
    objects: image.objects.map((o) => {
      const flags = (o.iscrowd ? 1 : 0) | (o.difficult ? 2 : 0) |
        (o.idKept === true ? 4 : o.idKept === false ? 8 : 0);
      const row = [o.classIndex, ...o.bbox, o.area, flags];
      return o.id === undefined ? row : [...row, o.id];
    }),
    detections: image.detections.map((d) => [d.classIndex, ...d.bbox, d.score]),
  };
}

function unpackImage(image: ReportImage): EvalImage {
  const objects: DetectionObject[] = image.objects.map(([k, x, y, w, h, area, flags, id]) => {
    const object: DetectionObject = {
      classIndex: k!,
      bbox: [x!, y!, w!, h!],
      area: area!,
      iscrowd: (flags! & 1) !== 0,
      difficult: (flags! & 2) !== 0,
    };
    if (id !== undefined) object.id = id;
    if (flags! & 12) object.idKept = (flags! & 4) !== 0;
    return object;
  });
  const detections: ScoredDetection[] = image.detections.map(([k, x, y, w, h, score]) => ({
    classIndex: k!,
    bbox: [x!, y!, w!, h!],
    score: score!,
  }));
  return { id: image.id, objects, detections };
}

function fixed(fraction: number | null): string {
  return fraction === null ? "-" : (fraction * 100).toFixed(2);
}

function percent(value: number | null): number | null {
  return value === null ? null : value * 100;
}

function meanOf(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length;
}
