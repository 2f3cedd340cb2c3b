/**
 * Turning what a user names on the command line (`--data <folder>`, or `--dataset <id>` with
 * `--root <MESS root>`) into concrete folders, suffixes and class names.
 *
 * A user's own dataset is a folder with `classes.json` (a JSON array of class names),
 * `images_detectron2/<split>/` (JPEG, PNG or TIFF) and `annotations_detectron2/<split>/`
 * (label PNGs), images and labels paired by file name minus extension.
 *
 * @module
 */
import { MESS_CLASS_NAMES } from "./mess_classes.ts";
import { findDataset, findDatasetByFolder, MESS_DATASETS } from "./registry.ts";
import type { DatasetSpec } from "./registry.ts";
import { defaultSplit, type SplitPurpose } from "./split_choice.ts";

/** Image file endings accepted in a user's own dataset. */
export const USER_IMAGE_SUFFIXES: readonly string[] = [".jpg", ".jpeg", ".png", ".tif", ".tiff"]
  .flatMap((suffix) => [suffix, suffix.toUpperCase()]);

/** Label file endings accepted in a user's own dataset. */
export const USER_LABEL_SUFFIXES: readonly string[] = [".png", ".PNG"];

/** A dataset split located on disk, ready for pairing and reading. */
export interface ResolvedDataset {
  /** Registry id (e.g. `kvasir_instrument`), or the folder name for a user's own dataset. */
  id: string;
  /** Display name. */
  name: string;
  /** The dataset folder; messages name it. */
  root: string;
  split: string;
  /** Variant name (e.g. `irrg`), `null` for datasets without variants. */
  variant: string | null;
  imagesDir: string;
  labelsDir: string;
  /** `imagesDir` and `labelsDir` relative to `root`, for messages. */
  imagesRelative: string;
  labelsRelative: string;
  imageSuffix: string | readonly string[];
  labelSuffix: string | readonly string[];
  classNames: readonly string[];
  /** Class indices of MESS's "classes of interest" (all classes for a user's dataset). */
  classesOfInterest: readonly number[];
  /** Whether this is one of the 22 MESS datasets. */
  isMess: boolean;
}

/** How the dataset was named; either `data`, or `dataset` together with `root`. */
export interface ResolveOptions {
  /** A dataset folder: `<MESS root>/<folder>` of a MESS dataset, or a user's own dataset. */
  data?: string;
  /** A registry id such as `kvasir_instrument`. */
  dataset?: string;
  /** The MESS root holding the dataset folders (with `dataset`). */
  root?: string;
  /**
   * Split name; without it, the one `purpose` takes (`split_choice.ts`): to evaluate, `test` when
   * the data has it, else its one evaluation split; to train, `train`.
   */
  split?: string;
  /** What an unnamed split is for (default `evaluate`: never the training split). */
  purpose?: SplitPurpose;
  /** Variant name (PAXRay label set, Potsdam/WorldFloods `irrg`/`rgb`, PST900 modality). */
  variant?: string;
  /** An alternative class-name list MESS registers, e.g. `official`. */
  classNames?: string;
}

/**
 * Locates a dataset split. Throws a one-line `Error` naming the folder when the folder is not a
 * dataset, and a `RangeError` for an unknown id, split or variant.
 *
 * @example
 * ```ts ignore
 * const kvasir = await resolveDataset({ dataset: "kvasir_instrument", root: "/data/mess" });
 * const mine = await resolveDataset({ data: "fixtures/mess/synthetic", split: "test" });
 * ```
 */
export async function resolveDataset(options: ResolveOptions): Promise<ResolvedDataset> {
  if (options.dataset !== undefined) {
    const spec = findDataset(options.dataset);
    if (!spec) {
      throw new RangeError(
        `Unknown dataset "${options.dataset}" (known: ${
          MESS_DATASETS.map((d) => d.id).join(", ")
        })`,
      );
    }
    if (options.root === undefined) {
      throw new TypeError(`Dataset "${spec.id}" needs the MESS root folder (--root)`);
    }
    return await resolveMess(spec, joinPath(options.root, spec.folder), options);
  }
  if (options.data === undefined) {
    throw new TypeError("Name a dataset: a folder (--data), or an id (--dataset) with --root");
  }
  const folder = options.data.replace(/\/+$/, "") || "/";
  const spec = findDatasetByFolder(baseName(folder));
  if (spec) return await resolveMess(spec, folder, options);
  return await resolveUser(folder, options);
}

async function resolveMess(
  spec: DatasetSpec,
  root: string,
  options: ResolveOptions,
): Promise<ResolvedDataset> {
  await requireFolder(root, `Cannot read dataset "${root}"`);
  const splitNames = Object.keys(spec.splits);
  const split = options.split ??
    defaultSplit(splitNames, options.purpose ?? "evaluate", `Cannot read dataset "${root}"`);
  const layout = spec.splits[split];
  if (!layout) {
    throw new RangeError(
      `Dataset "${spec.id}" has no split "${split}" (known: ${splitNames.join(", ")})`,
    );
  }
  let variant = null;
  if (spec.variants.length > 0) {
    const name = options.variant ?? spec.variants[0]!.name;
    variant = spec.variants.find((v) => v.name === name) ?? null;
    if (!variant) {
      throw new RangeError(
        `Dataset "${spec.id}" has no variant "${name}" ` +
          `(known: ${spec.variants.map((v) => v.name).join(", ")})`,
      );
    }
  } else if (options.variant !== undefined) {
    throw new RangeError(`Dataset "${spec.id}" has no variants (got "${options.variant}")`);
  }
  let classNames = variant?.classKey ? namesOfVariant(spec, variant.classKey) : spec.classNames;
  if (options.classNames !== undefined && options.classNames !== "default") {
    const other = spec.otherClassNames[options.classNames];
    if (!other) {
      const known = ["default", ...Object.keys(spec.otherClassNames)].join(", ");
      throw new RangeError(
        `Dataset "${spec.id}" has no class-name list "${options.classNames}" (known: ${known})`,
      );
    }
    classNames = other;
  }
  const imagesRelative = variant?.images ?? layout.images;
  const labelsRelative = variant?.labels ?? layout.labels;
  return {
    id: spec.id,
    name: spec.name,
    root,
    split,
    variant: variant?.name ?? null,
    imagesDir: joinPath(root, imagesRelative),
    labelsDir: joinPath(root, labelsRelative),
    imagesRelative,
    labelsRelative,
    imageSuffix: layout.imageSuffix,
    labelSuffix: layout.labelSuffix,
    classNames,
    classesOfInterest: spec.classesOfInterest,
    isMess: true,
  };
}

async function resolveUser(root: string, options: ResolveOptions): Promise<ResolvedDataset> {
  const context = `Cannot read dataset "${root}"`;
  await requireFolder(root, context);
  const classNames = await readClassNames(joinPath(root, "classes.json"), context);
  const splits: string[] = [];
  try {
    for await (const entry of Deno.readDir(joinPath(root, "images_detectron2"))) {
      if (entry.isDirectory) splits.push(entry.name);
    }
  } catch {
    throw new Error(`${context}: no images_detectron2 folder`);
  }
  splits.sort();
  if (splits.length === 0) throw new Error(`${context}: no split folders in images_detectron2`);
  const split = options.split ?? defaultSplit(splits, options.purpose ?? "evaluate", context);
  if (!splits.includes(split)) {
    throw new Error(
      `${context}: no split "${split}" in images_detectron2 (found: ${splits.join(", ")})`,
    );
  }
  if (options.variant !== undefined) {
    throw new RangeError(`Dataset "${root}" has no variants (got "${options.variant}")`);
  }
  const imagesRelative = `images_detectron2/${split}`;
  const labelsRelative = `annotations_detectron2/${split}`;
  return {
    id: baseName(root),
    name: baseName(root),
    root,
    split,
    variant: null,
    imagesDir: joinPath(root, imagesRelative),
    labelsDir: joinPath(root, labelsRelative),
    imagesRelative,
    labelsRelative,
    imageSuffix: USER_IMAGE_SUFFIXES,
    labelSuffix: USER_LABEL_SUFFIXES,
    classNames,
    classesOfInterest: classNames.map((_, i) => i),
    isMess: false,
  };
}

/**
 * Reads a `classes.json` file: a non-empty JSON array of distinct, non-empty strings (at most
 * 255, since label value 255 means "ignore").
 *
 * @example
 * ```ts ignore
 * const names = await readClassNames("fixtures/mess/synthetic/classes.json");
 * ```
 */
export async function readClassNames(
  path: string,
  context = `Cannot read class names "${path}"`,
): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        context.includes(path)
          ? `${context}: file not found`
          : `${context}: not a MESS dataset folder and no classes.json`,
      );
    }
    throw new Error(`${context}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`Cannot read class names "${path}": not valid JSON`);
  }
  if (
    !Array.isArray(parsed) || parsed.length === 0 ||
    !parsed.every((name) => typeof name === "string" && name.length > 0)
  ) {
    throw new Error(`Cannot read class names "${path}": expected a JSON array of class names`);
  }
  if (parsed.length > 255) {
    throw new Error(`Cannot read class names "${path}": ${parsed.length} classes, at most 255`);
  }
  if (new Set(parsed).size !== parsed.length) {
    throw new Error(`Cannot read class names "${path}": class names repeat`);
  }
  return parsed as string[];
}

function namesOfVariant(spec: DatasetSpec, key: string): readonly string[] {
  // A variant with its own label set (PAXRay) has its own class-name list.
  return MESS_CLASS_NAMES[key] ?? spec.classNames;
}

async function requireFolder(path: string, context: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new Error(`${context}: folder not found`);
  }
  if (!info.isDirectory) throw new Error(`${context}: not a folder`);
}

function joinPath(a: string, b: string): string {
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

function baseName(path: string): string {
  const parts = path.split("/").filter((part) => part.length > 0);
  return parts[parts.length - 1] ?? path;
}
