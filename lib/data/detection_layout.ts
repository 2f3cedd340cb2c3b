/**
 * Recognising what a dataset folder holds, and loading a detection split from it.
 *
 * - `coco`: `annotations/instances_<split>.json` (with `images/<split>/`);
 * - `fair1m`: `<split>/labelXml/` (with `<split>/images/`);
 * - `semantic`: a MESS dataset folder or a user's semantic dataset (`classes.json` and
 *   `images_detectron2/`, see `resolve.ts`);
 * - `unknown`: none of these.
 *
 * @module
 */
import { cocoSplitNames, findCocoSplit, readCocoSplit } from "./coco.ts";
import type { DetectionSplit } from "./detection_split.ts";
import { fair1mSplitNames, readFair1mSplit } from "./fair1m.ts";
import { findDatasetByFolder } from "./registry.ts";
import type { SplitPurpose } from "./split_choice.ts";

/** What a dataset folder holds. */
export type DatasetLayout = "coco" | "fair1m" | "semantic" | "unknown";

/**
 * The layout of a dataset folder, from the files it has (nothing is parsed).
 *
 * @example
 * ```ts ignore
 * await detectionLayout("fixtures/detection"); // "coco"
 * await detectionLayout("fixtures/mess/synthetic"); // "semantic"
 * ```
 */
export async function detectionLayout(dir: string): Promise<DatasetLayout> {
  const folder = dir.replace(/\/+$/, "") || "/";
  if ((await cocoSplitNames(folder)).length > 0) return "coco";
  if ((await fair1mSplitNames(folder)).length > 0) return "fair1m";
  const name = folder.split("/").filter((part) => part.length > 0).pop() ?? folder;
  if (findDatasetByFolder(name)) return "semantic";
  if (await exists(`${folder}/classes.json`) && await exists(`${folder}/images_detectron2`)) {
    return "semantic";
  }
  return "unknown";
}

/** How a detection split is named: a dataset folder, or an images folder and annotation file. */
export interface DetectionDataOptions {
  /** A COCO- or FAIR-1M-layout folder. */
  data?: string;
  /**
   * Split name; without it, the one `purpose` takes (`split_choice.ts`): to evaluate, `test`
   * when the data has it, else its one evaluation split, never `train`.
   */
  split?: string;
  /** What an unnamed split is for (default `evaluate`). */
  purpose?: SplitPurpose;
  /**
   * FAIR-1M-layout data: the classes in this order, instead of the training split's names
   * (a COCO file lists its own categories: refused there).
   */
  classes?: readonly string[];
  /** With `annotations`: the folder the COCO `file_name`s are in (instead of `data`). */
  images?: string;
  /** A COCO instances JSON file (with `images`). */
  annotations?: string;
}

/**
 * Loads a detection split from a COCO or FAIR-1M folder, or from `images` + `annotations`. A
 * folder of another layout is a one-line error naming it.
 *
 * @example
 * ```ts ignore
 * const val = await loadDetectionSplit({ data: "fixtures/detection", split: "val" });
 * const mine = await loadDetectionSplit({ images: "photos", annotations: "photos.json" });
 * ```
 */
export async function loadDetectionSplit(options: DetectionDataOptions): Promise<DetectionSplit> {
  const coco = (where: string) => {
    if (options.classes === undefined) return;
    throw new Error(
      `Cannot take --classes for "${where}": a COCO file lists its own categories ` +
        "(--classes is for FAIR-1M-layout data)",
    );
  };
  if (options.annotations !== undefined || options.images !== undefined) {
    if (options.annotations === undefined || options.images === undefined) {
      throw new TypeError("Name both the images folder and the COCO annotation file");
    }
    coco(options.annotations);
    const stem = options.annotations.split("/").pop()!.replace(/\.json$/i, "")
      .replace(/^instances_/, "");
    return await readCocoSplit({
      annotations: options.annotations,
      imagesDir: options.images,
      split: options.split ?? stem,
    });
  }
  if (options.data === undefined) {
    throw new TypeError("Name a detection dataset: a folder, or an images folder and annotations");
  }
  const dir = options.data.replace(/\/+$/, "") || "/";
  const layout = await detectionLayout(dir);
  const purpose = options.purpose ?? "evaluate";
  if (layout === "coco") {
    coco(dir);
    return await readCocoSplit(await findCocoSplit(dir, options.split, purpose));
  }
  if (layout === "fair1m") {
    return await readFair1mSplit(dir, options.split, { purpose, classes: options.classes });
  }
  if (layout === "semantic") {
    throw new Error(
      `Cannot read detection dataset "${dir}": it is a semantic segmentation dataset ` +
        "(label PNGs), not COCO or FAIR-1M",
    );
  }
  throw new Error(
    `Cannot read detection dataset "${dir}": neither COCO (annotations/instances_<split>.json) ` +
      "nor FAIR-1M (<split>/labelXml/)",
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
