/**
 * The list of image/label files of one dataset split: pairing, checks for an empty split and
 * images without labels, and an optional seeded hold-out.
 *
 * @module
 */
import { splitHoldout } from "./holdout.ts";
import { pairImagesWithLabels } from "./pairing.ts";
import type { ImageLabelPair } from "./pairing.ts";
import type { ResolvedDataset } from "./resolve.ts";

/** A file left out under `skipBad`, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** The files of a split, in sorted stem order. */
export interface DatasetSplit {
  dataset: ResolvedDataset;
  pairs: ImageLabelPair[];
  /** Files skipped while listing (images without a label) under `skipBad`. */
  skipped: SkippedFile[];
}

/** Options of {@link loadSplit}. */
export interface LoadSplitOptions {
  /** Skip images without a label instead of failing; each one is reported to `onSkip`. */
  skipBad?: boolean;
  /** Called once per skipped file (the library itself never prints). */
  onSkip?: (skipped: SkippedFile) => void;
  /**
   * Carve a seeded, file-level hold-out from this one folder and keep one part of it: `train`
   * (the rest) or `heldOut` (`fraction` of the files).
   */
  holdout?: { fraction: number; seed: number; part: "train" | "heldOut" };
}

/**
 * Pairs a resolved split's images with labels. Throws one-line errors such as
 * `Cannot read dataset "ds": no images in images_detectron2/test`.
 *
 * @example
 * ```ts ignore
 * const dataset = await resolveDataset({ data: "fixtures/mess/synthetic" });
 * const split = await loadSplit(dataset, { holdout: { fraction: 0.25, seed: 0, part: "train" } });
 * ```
 */
export async function loadSplit(
  dataset: ResolvedDataset,
  options: LoadSplitOptions = {},
): Promise<DatasetSplit> {
  const context = `Cannot read dataset "${dataset.root}"`;
  let result;
  try {
    result = await pairImagesWithLabels(dataset.imagesDir, dataset.labelsDir, dataset);
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes(`"${dataset.imagesDir}"`)) {
      throw new Error(`${context}: no folder ${dataset.imagesRelative}`);
    }
    if (message.includes(`"${dataset.labelsDir}"`)) {
      throw new Error(`${context}: no folder ${dataset.labelsRelative}`);
    }
    throw error;
  }
  const { pairs, imagesWithoutLabel } = result;
  if (pairs.length === 0 && imagesWithoutLabel.length === 0) {
    throw new Error(`${context}: no images in ${dataset.imagesRelative}`);
  }
  const skipped: SkippedFile[] = [];
  for (const imagePath of imagesWithoutLabel) {
    const reason = `no label in ${dataset.labelsRelative}`;
    if (!options.skipBad) throw new Error(`Cannot read image "${imagePath}": ${reason}`);
    const entry = { path: imagePath, reason };
    skipped.push(entry);
    options.onSkip?.(entry);
  }
  if (pairs.length === 0) {
    throw new Error(`${context}: no image in ${dataset.imagesRelative} has a label`);
  }
  let kept = pairs;
  if (options.holdout) {
    const { fraction, seed, part } = options.holdout;
    kept = splitHoldout(pairs, { fraction, seed, key: (pair) => pair.stem })[part];
  }
  return { dataset, pairs: kept, skipped };
}
