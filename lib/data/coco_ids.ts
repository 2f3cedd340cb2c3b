/**
 * COCO annotation ids as pycocotools treats them, which changes its scores:
 *
 * - `COCO.createIndex` keeps one annotation per id, the last in the file (`anns[ann['id']]`),
 *   while each image's list keeps every annotation (`imgToAnns`); `COCOeval._prepare` loads the
 *   ground truth through the ids of those lists, so every occurrence of a repeated id stands for
 *   the last annotation with it: the others vanish and that one is counted once per occurrence
 *   (on its own image, in the order the occurrences come: images by id, then file order).
 * - `COCOeval.evaluateImg` records a match as the ground truth's id (`dtm`) and counts a
 *   detection matched only when that is non-zero, so a detection that takes the ground truth of
 *   id 0 is a false positive and that ground truth stays unfound (cocoapi issue 664).
 *
 * The reader records each annotation's `id` and, for a repeated one, whether it is the one kept
 * (`idKept`); the COCO scorer applies these rules from them, and a report can name what they did.
 *
 * @module
 */
import type { DetectionObject } from "./detection_split.ts";

/** What is odd about a split's annotation ids, for warnings and for `--strict-ids`. */
export interface CocoIdProblems {
  /** Images (by id) holding annotations of id 0, with how many. */
  zero: { imageId: number; count: number }[];
  /** Ids that more than one annotation carries, with how many do. */
  repeated: { id: number; count: number }[];
}

/**
 * Marks repeated ids among annotations listed in file order: each annotation whose id another
 * also carries gets `idKept` (true for the last of them, as pycocotools keeps it).
 *
 * @example
 * ```ts
 * import { markRepeatedIds } from "./coco_ids.ts";
 * import type { DetectionObject } from "./detection_split.ts";
 * const objects = [5, 6, 5].map((id): DetectionObject => ({
 *   id, classIndex: 0, bbox: [0, 0, 1, 1], area: 1, iscrowd: false, difficult: false,
 * }));
 * markRepeatedIds(objects);
 * objects.map((o) => o.idKept); // [false, undefined, true]
 * ```
 */
export function markRepeatedIds(objectsInFileOrder: readonly DetectionObject[]): void {
  const last = new Map<number, DetectionObject>();
  const count = new Map<number, number>();
  for (const object of objectsInFileOrder) {
    if (object.id === undefined) continue;
    last.set(object.id, object);
    count.set(object.id, (count.get(object.id) ?? 0) + 1);
  }
  for (const object of objectsInFileOrder) {
    if (object.id === undefined || count.get(object.id)! < 2) continue;
    object.idKept = last.get(object.id) === object;
  }
}

/**
 * The zero and repeated ids of a split's images, or `null` when every id is unique and non-zero.
 *
 * @example
 * ```ts ignore
 * const problems = cocoIdProblems(split.images);
 * ```
 */
export function cocoIdProblems(
  images: readonly { id: number; objects: readonly DetectionObject[] }[],
): CocoIdProblems | null {
  const zero: CocoIdProblems["zero"] = [];
  const counts = new Map<number, number>();
  for (const image of [...images].sort((a, b) => a.id - b.id)) {
    let zeros = 0;
    for (const object of image.objects) {
      if (object.id === 0) zeros++;
      if (object.idKept !== undefined) counts.set(object.id!, (counts.get(object.id!) ?? 0) + 1);
    }
    if (zeros > 0) zero.push({ imageId: image.id, count: zeros });
  }
  const repeated = [...counts].sort((a, b) => a[0] - b[0]).map(([id, count]) => ({ id, count }));
  return zero.length === 0 && repeated.length === 0 ? null : { zero, repeated };
}

/**
 * One line naming the zero and repeated ids (a few of each, then how many more).
 *
 * @example
 * ```ts
 * import { describeCocoIdProblems } from "./coco_ids.ts";
 * describeCocoIdProblems({ zero: [{ imageId: 3, count: 1 }], repeated: [{ id: 7, count: 2 }] });
 * // "1 annotation of id 0 (image 3); id 7 repeats (2 annotations)"
 * ```
 */
export function describeCocoIdProblems(problems: CocoIdProblems): string {
  const parts: string[] = [];
  if (problems.zero.length > 0) {
    const total = problems.zero.reduce((sum, z) => sum + z.count, 0);
    const images = problems.zero.map((z) => z.count > 1 ? `${z.imageId} (${z.count})` : z.imageId);
    parts.push(
      `${total} annotation${total > 1 ? "s" : ""} of id 0 ` +
        `(image${images.length > 1 ? "s" : ""} ${listSome(images.map(String))})`,
    );
  }
  if (problems.repeated.length > 0) {
    const ids = problems.repeated.map((r) => `${r.id} (${r.count} annotations)`);
    parts.push(
      `id${ids.length > 1 ? "s" : ""} ${listSome(ids)} ${ids.length > 1 ? "repeat" : "repeats"}`,
    );
  }
  return parts.join("; ");
}

/**
 * Each image's ground truth as pycocotools scores it (module notes): every occurrence of a
 * repeated id replaced by the annotation kept for it, on that one's image. `images` sorted by id.
 *
 * @example
 * ```ts ignore
 * const scored = asPycocotoolsLoadsThem(images.map((im) => im.objects));
 * ```
 */
export function asPycocotoolsLoadsThem(
  objectsPerImage: readonly (readonly DetectionObject[])[],
): DetectionObject[][] {
  const kept = new Map<number, { object: DetectionObject; image: number }>();
  objectsPerImage.forEach((objects, image) => {
    for (const object of objects) {
      if (object.idKept) kept.set(object.id!, { object, image });
    }
  });
  const result: DetectionObject[][] = objectsPerImage.map(() => []);
  objectsPerImage.forEach((objects, image) => {
    for (const object of objects) {
      if (object.idKept === undefined) {
        result[image]!.push(object);
        continue;
      }
      // The kept one may be on an image that is not scored (a shard): then nothing stands here.
      const target = kept.get(object.id!);
      if (target) result[target.image]!.push(target.object);
    }
  });
  return result;
}

function listSome(items: readonly string[], most = 5): string {
  return items.length <= most
    ? items.join(", ")
    : `${items.slice(0, most).join(", ")} and ${items.length - most} more`;
}
