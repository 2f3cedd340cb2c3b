/**
 * COCO results files (`[{image_id, category_id, bbox, score}]`, what any COCO detector writes):
 * reading one against a ground truth, and writing one from a split's detections.
 *
 * @module
 */
import type { EvalImage, ScoredDetection } from "./detections.ts";
import type { BoxXywh } from "../image/box.ts";
import type { DetectionSplit } from "./detection_split.ts";

/** One entry of a COCO results file. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: BoxXywh;
  score: number;
}

/**
 * Checks parsed JSON as a COCO results file for `split` and pairs it with the split's ground
 * truth: one {@link EvalImage} per ground-truth image (in id order). A result naming an image or a
 * category the ground truth does not have is an error (a detections file for another ground
 * truth); `source` names the results file in errors.
 *
 * @example
 * ```ts ignore
 * const images = cocoResultsToEval(JSON.parse(text), split, "dets.json");
 * ```
 */
export function cocoResultsToEval(
  value: unknown,
  split: DetectionSplit,
  source: string,
): EvalImage[] {
  const fail: (problem: string) => never = (problem) => {
    throw new Error(`Cannot read detections "${source}": ${problem}`);
  };
  if (!Array.isArray(value)) {
    fail("not a COCO results file (expected a list of {image_id, category_id, bbox, score})");
  }
  const perImage = new Map<number, ScoredDetection[]>(split.images.map((im) => [im.id, []]));
  const classOf = new Map(split.categoryIds.map((id, k) => [id, k]));
  (value as unknown[]).forEach((entry, i) => {
    const r = entry as Record<string, unknown>;
    if (typeof r !== "object" || r === null) fail(`entry ${i} is not an object`);
    const list = perImage.get(r.image_id as number);
    if (!list) {
      fail(
        `entry ${i} names image_id ${JSON.stringify(r.image_id)}, which is not in ` +
          `"${split.source}" (detections for another ground truth?)`,
      );
    }
    const classIndex = classOf.get(r.category_id as number);
    if (classIndex === undefined) {
      fail(
        `entry ${i} names category_id ${JSON.stringify(r.category_id)}, which is not in ` +
          `"${split.source}" (detections for another ground truth?)`,
      );
    }
    const bbox = r.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(Number.isFinite)) {
      fail(`entry ${i} has no bbox [x, y, width, height]`);
    }
    if ((bbox as number[])[2]! < 0 || (bbox as number[])[3]! < 0) {
      fail(`entry ${i} has a box of negative size [${(bbox as number[]).join(", ")}]`);
    }
    if (!Number.isFinite(r.score)) fail(`entry ${i} has no numeric score`);
    list!.push({
      classIndex: classIndex!,
      bbox: [...(bbox as BoxXywh)],
      score: r.score as number,
    });
  });
  return split.images.map((image) => ({
    id: image.id,
    objects: image.objects,
    detections: perImage.get(image.id)!,
  }));
}

/**
 * Detections of one image as COCO results entries (class indices turned into the split's
 * category ids).
 *
 * @example
 * ```ts ignore
 * const entries = toCocoResults(split, image.id, detections);
 * ```
 */
export function toCocoResults(
  split: Pick<DetectionSplit, "categoryIds">,
  imageId: number,
  detections: readonly ScoredDetection[],
): CocoResult[] {
  return detections.map((d) => {
    const categoryId = split.categoryIds[d.classIndex];
    if (categoryId === undefined) throw new RangeError(`No category for class ${d.classIndex}`);
    return { image_id: imageId, category_id: categoryId, bbox: [...d.bbox], score: d.score };
  });
}
