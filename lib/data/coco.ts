/**
 * Reading a COCO instances file (`instances_<split>.json`) as a {@link DetectionSplit}.
 *
 * Layout: `DIR/images/<split>/` and `DIR/annotations/instances_<split>.json`, or an images folder
 * and an annotation file named explicitly. Classes are the file's categories in `id` order; boxes
 * are xywh; `iscrowd` marks crowd regions; a polygon `segmentation` (a list of flat xy lists) is
 * kept, an RLE one is not (mask targets then fall back to the box). Everything is checked, and a
 * problem is one line naming the file: not COCO, an annotation naming an unknown image or
 * category, a box of negative size, an image file missing from the images folder.
 *
 * @module
 */
import type { BoxXywh } from "../image/box.ts";
import type {
  ClassCategory,
  DetectionImage,
  DetectionObject,
  DetectionSplit,
} from "./detection_split.ts";
import { markRepeatedIds } from "./coco_ids.ts";
import { defaultSplit, type SplitPurpose } from "./split_choice.ts";

/** Where a COCO split lies on disk. */
export interface CocoFiles {
  /** The instances JSON. */
  annotations: string;
  /** Folder the images' `file_name`s are relative to; `null` to read annotations only. */
  imagesDir: string | null;
  /** Split name, for messages and reports. */
  split: string;
}

/**
 * Finds a split of a COCO-layout folder: `DIR/annotations/instances_<split>.json` and
 * `DIR/images/<split>/`. Without `split`, the one `purpose` takes (`split_choice.ts`; to evaluate:
 * `test`, else the one evaluation split, never `train`).
 *
 * @example
 * ```ts ignore
 * const files = await findCocoSplit("fixtures/detection", "val");
 * // { annotations: "fixtures/detection/annotations/instances_val.json", imagesDir: ..., split: "val" }
 * ```
 */
export async function findCocoSplit(
  dir: string,
  split?: string,
  purpose: SplitPurpose = "evaluate",
): Promise<CocoFiles> {
  const splits = await cocoSplitNames(dir);
  const context = `Cannot read COCO dataset "${dir}"`;
  if (splits.length === 0) throw new Error(`${context}: no annotations/instances_<split>.json`);
  const chosen = split ?? defaultSplit(splits, purpose, context);
  if (!splits.includes(chosen)) {
    throw new Error(`${context}: no split "${chosen}" (found: ${splits.join(", ")})`);
  }
  return {
    annotations: joinPath(dir, `annotations/instances_${chosen}.json`),
    imagesDir: joinPath(dir, `images/${chosen}`),
    split: chosen,
  };
}

/**
 * Split names of a COCO-layout folder (from `annotations/instances_<split>.json`), sorted; empty
 * when the folder has none.
 *
 * @example
 * ```ts ignore
 * await cocoSplitNames("fixtures/detection"); // ["train", "val"]
 * ```
 */
export async function cocoSplitNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(joinPath(dir, "annotations"))) {
      const match = /^instances_(.+)\.json$/.exec(entry.name);
      if (match && entry.isFile) names.push(match[1]!);
    }
  } catch {
    return [];
  }
  return names.sort();
}

/**
 * Reads and checks a COCO instances file; with `imagesDir`, also checks that every image file is
 * there and makes `file` paths under it.
 *
 * @example
 * ```ts ignore
 * const split = await readCocoSplit({
 *   annotations: "fixtures/detection/annotations/instances_val.json",
 *   imagesDir: "fixtures/detection/images/val",
 *   split: "val",
 * });
 * split.classNames; // ["square", "disc", "triangle"]
 * ```
 */
export async function readCocoSplit(files: CocoFiles): Promise<DetectionSplit> {
  const { annotations, imagesDir } = files;
  let text: string;
  try {
    text = await Deno.readTextFile(annotations);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new Error(`Cannot read COCO annotations "${annotations}": ${reason}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`Cannot read COCO annotations "${annotations}": not valid JSON`);
  }
  const split = parseCocoInstances(value, annotations, files.split);
  if (imagesDir !== null) {
    const present = await listFiles(imagesDir, annotations);
    for (const image of split.images) {
      const found = image.file.includes("/")
        ? await isFile(joinPath(imagesDir, image.file))
        : present.has(image.file);
      if (!found) {
        throw new Error(
          `Cannot read COCO annotations "${annotations}": image ${image.id} ("${image.file}") ` +
            `is not in "${imagesDir}"`,
        );
      }
      image.file = joinPath(imagesDir, image.file);
    }
  }
  return split;
}

/**
 * Checks parsed JSON as COCO instances and converts it; `source` names the file in errors. Image
 * `file`s are the `file_name`s as written.
 *
 * @example
 * ```ts
 * import { parseCocoInstances } from "./coco.ts";
 * const split = parseCocoInstances({
 *   images: [{ id: 1, file_name: "a.png", width: 64, height: 48 }],
 *   annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [2, 4, 10, 8], iscrowd: 0 }],
 *   categories: [{ id: 3, name: "car" }],
 * }, "gt.json", "val");
 * split.images[0]!.objects[0]!.area; // 80: no `area` given, so w * h
 * ```
 */
export function parseCocoInstances(value: unknown, source: string, split: string): DetectionSplit {
  const fail: (problem: string) => never = (problem) => {
    throw new Error(`Cannot read COCO annotations "${source}": ${problem}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("not COCO instances JSON (expected an object with images, annotations, categories)");
  }
  const record = value as Record<string, unknown>;
  for (const key of ["images", "annotations", "categories"]) {
    if (!Array.isArray(record[key])) fail(`not COCO instances JSON (no "${key}" list)`);
  }
  const rawCategories = record.categories as unknown[];
  if (rawCategories.length === 0) fail("no categories");
  const categories = rawCategories.map((entry, i) => {
    const c = entry as Record<string, unknown>;
    if (typeof c !== "object" || c === null || !Number.isSafeInteger(c.id)) {
      fail(`category ${i} has no integer id`);
    }
    if (typeof c.name !== "string" || c.name.length === 0) fail(`category ${c.id} has no name`);
    return {
      id: c.id as number,
      name: c.name as string,
      supercategory: typeof c.supercategory === "string" ? c.supercategory : null,
    };
  }).sort((a, b) => a.id - b.id);
  const classOfCategory = new Map<number, number>();
  const names = new Set<string>();
  categories.forEach((c, k) => {
    if (classOfCategory.has(c.id)) fail(`category id ${c.id} repeats`);
    if (names.has(c.name)) fail(`category name "${c.name}" repeats`);
    classOfCategory.set(c.id, k);
    names.add(c.name);
  });
  const images: DetectionImage[] = [];
  const imageOfId = new Map<number, DetectionImage>();
  (record.images as unknown[]).forEach((entry, i) => {
    const m = entry as Record<string, unknown>;
    if (typeof m !== "object" || m === null || !Number.isSafeInteger(m.id)) {
      fail(`image ${i} has no integer id`);
    }
    if (typeof m.file_name !== "string" || m.file_name.length === 0) {
      fail(`image ${m.id} has no file_name`);
    }
    if (!positiveInteger(m.width) || !positiveInteger(m.height)) {
      fail(`image ${m.id} has no positive integer width and height`);
    }
    if (imageOfId.has(m.id as number)) fail(`image id ${m.id} repeats`);
    const image: DetectionImage = {
      id: m.id as number,
      file: m.file_name as string,
      width: m.width as number,
      height: m.height as number,
      objects: [],
    };
    imageOfId.set(image.id, image);
    images.push(image);
  });
  const inFileOrder: DetectionObject[] = [];
  (record.annotations as unknown[]).forEach((entry, i) => {
    const a = entry as Record<string, unknown>;
    if (typeof a !== "object" || a === null) fail(`annotation ${i} is not an object`);
    const name = Number.isSafeInteger(a.id) ? `annotation ${a.id}` : `annotation ${i}`;
    const image = imageOfId.get(a.image_id as number);
    if (!image) fail(`${name} names image ${JSON.stringify(a.image_id)}, which is not in the file`);
    const classIndex = classOfCategory.get(a.category_id as number);
    if (classIndex === undefined) {
      fail(`${name} names category ${JSON.stringify(a.category_id)}, which is not in the file`);
    }
    const bbox = a.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(Number.isFinite)) {
      fail(`${name} has no bbox [x, y, width, height]`);
    }
    const box = bbox as BoxXywh;
    if (box[2] < 0 || box[3] < 0) fail(`${name} has a box of negative size [${box.join(", ")}]`);
    if (a.iscrowd !== undefined && a.iscrowd !== 0 && a.iscrowd !== 1) {
      fail(`${name} has iscrowd ${JSON.stringify(a.iscrowd)}, expected 0 or 1`);
    }
    const polygons = polygonsOf(a.segmentation);
    if (polygons === "bad") fail(`${name} has a segmentation that is neither polygons nor RLE`);
    if (a.area !== undefined && (!Number.isFinite(a.area) || (a.area as number) < 0)) {
      fail(`${name} has area ${JSON.stringify(a.area)}, expected a number >= 0`);
    }
    const object: DetectionObject = {
      classIndex: classIndex!,
      bbox: [...box],
      area: (a.area as number | undefined) ??
        (polygons ? polygons.reduce((sum, p) => sum + polygonArea(p), 0) : box[2] * box[3]),
      iscrowd: a.iscrowd === 1,
      difficult: false,
    };
    if (typeof a.id === "number" && Number.isFinite(a.id)) object.id = a.id;
    if (polygons) object.polygons = polygons;
    image!.objects.push(object);
    inFileOrder.push(object);
  });
  markRepeatedIds(inFileOrder);
  images.sort((a, b) => a.id - b.id);
  const result: DetectionSplit = {
    format: "coco",
    source,
    split,
    classNames: categories.map((c) => c.name),
    categoryIds: categories.map((c) => c.id),
    images,
  };
  const groups = supercategories(categories);
  if (groups) result.categories = groups;
  return result;
}

/**
 * Area of a polygon given as a flat `[x0, y0, x1, y1, ...]` list (shoelace formula; absolute).
 *
 * @example
 * ```ts
 * import { polygonArea } from "./coco.ts";
 * polygonArea([0, 0, 4, 0, 4, 3]); // 6
 * ```
 */
export function polygonArea(polygon: readonly number[]): number {
  let twice = 0;
  const n = polygon.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    twice += polygon[2 * i]! * polygon[2 * j + 1]! - polygon[2 * j]! * polygon[2 * i + 1]!;
  }
  return Math.abs(twice) / 2;
}

/** Polygon segmentation as flat lists; `undefined` for none or RLE; "bad" for anything else. */
function polygonsOf(segmentation: unknown): number[][] | undefined | "bad" {
  if (segmentation === undefined || segmentation === null) return undefined;
  if (Array.isArray(segmentation)) {
    if (segmentation.length === 0) return undefined;
    if (
      !segmentation.every((p) => Array.isArray(p) && p.length % 2 === 0 && p.every(Number.isFinite))
    ) return "bad";
    // pycocotools drops polygons of fewer than three points too.
    const kept = (segmentation as number[][]).filter((p) => p.length >= 6).map((p) => [...p]);
    return kept.length > 0 ? kept : undefined;
  }
  if (typeof segmentation === "object" && "counts" in segmentation && "size" in segmentation) {
    return undefined;
  }
  return "bad";
}

/** COCO supercategories as class groups, when every category names one and they group. */
function supercategories(
  categories: readonly { name: string; supercategory: string | null }[],
): ClassCategory[] | undefined {
  if (!categories.every((c) => c.supercategory !== null)) return undefined;
  const groups = new Map<string, number[]>();
  categories.forEach((c, k) => {
    const list = groups.get(c.supercategory!) ?? [];
    list.push(k);
    groups.set(c.supercategory!, list);
  });
  if (groups.size === categories.length && categories.every((c) => c.supercategory === c.name)) {
    return undefined;
  }
  return [...groups].map(([name, classIndices]) => ({ name, classIndices }));
}

function positiveInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

async function listFiles(dir: string, annotations: string): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile || entry.isSymlink) names.add(entry.name);
    }
  } catch {
    throw new Error(`Cannot read COCO annotations "${annotations}": no images folder "${dir}"`);
  }
  return names;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function joinPath(a: string, b: string): string {
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}
