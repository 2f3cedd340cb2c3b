/**
 * Pairing images with labels by file stem, the rule of detectron2's `load_sem_seg`: a file's stem
 * is its name with the split's image (or label) suffix cut off; stems are sorted.
 *
 * @module
 */

/** An image file and the label file that goes with it. */
export interface ImageLabelPair {
  /** File name minus suffix, shared by the image and its label. */
  stem: string;
  imagePath: string;
  labelPath: string;
}

/** What pairing found: matched pairs, plus the files left over on either side. */
export interface PairingResult {
  /** Sorted by stem. */
  pairs: ImageLabelPair[];
  /** Images whose label is missing (full paths, sorted). */
  imagesWithoutLabel: string[];
  /** Labels whose image is missing (full paths, sorted). */
  labelsWithoutImage: string[];
}

/** File-name endings to pair by; a list means "any of these" (the first that matches is cut). */
export interface PairingSuffixes {
  imageSuffix: string | readonly string[];
  labelSuffix: string | readonly string[];
}

/**
 * Lists the files of `imagesDir` and `labelsDir` (not recursive) and pairs them by stem.
 * Throws when a folder cannot be listed, or when two files of one folder share a stem.
 *
 * @example
 * ```ts ignore
 * const { pairs } = await pairImagesWithLabels("ds/images_detectron2/test",
 *   "ds/annotations_detectron2/test", { imageSuffix: ".jpg", labelSuffix: ".png" });
 * ```
 */
export async function pairImagesWithLabels(
  imagesDir: string,
  labelsDir: string,
  suffixes: PairingSuffixes,
): Promise<PairingResult> {
  const images = await stemsOf(imagesDir, suffixes.imageSuffix);
  const labels = await stemsOf(labelsDir, suffixes.labelSuffix);
  const pairs: ImageLabelPair[] = [];
  const imagesWithoutLabel: string[] = [];
  for (const [stem, imagePath] of images) {
    const labelPath = labels.get(stem);
    if (labelPath === undefined) imagesWithoutLabel.push(imagePath);
    else pairs.push({ stem, imagePath, labelPath });
  }
  const labelsWithoutImage = [...labels].filter(([stem]) => !images.has(stem)).map(([, p]) => p);
  pairs.sort((a, b) => compareStrings(a.stem, b.stem));
  return {
    pairs,
    imagesWithoutLabel: imagesWithoutLabel.sort(compareStrings),
    labelsWithoutImage: labelsWithoutImage.sort(compareStrings),
  };
}

/**
 * The stem of `fileName` for the given suffix(es), or `null` when it ends with none of them.
 *
 * @example
 * ```ts
 * import { stemOf } from "./pairing.ts";
 * stemOf("001_image.png", "image.png"); // "001_"
 * stemOf("a.jpg", [".png", ".jpg"]); // "a"
 * ```
 */
export function stemOf(fileName: string, suffix: string | readonly string[]): string | null {
  for (const candidate of typeof suffix === "string" ? [suffix] : suffix) {
    if (fileName.length > candidate.length && fileName.endsWith(candidate)) {
      return fileName.slice(0, fileName.length - candidate.length);
    }
  }
  return null;
}

/** Code-unit order, as Python's `sorted` on str, independent of the locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function stemsOf(
  dir: string,
  suffix: string | readonly string[],
): Promise<Map<string, string>> {
  const stems = new Map<string, string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile && !entry.isSymlink) continue;
      const stem = stemOf(entry.name, suffix);
      if (stem === null) continue;
      const previous = stems.get(stem);
      const path = `${dir}/${entry.name}`;
      if (previous !== undefined) {
        const [first, second] = [previous, path].sort(compareStrings);
        throw new Error(`Cannot pair "${second}": "${first}" has the same stem "${stem}"`);
      }
      stems.set(stem, path);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot read folder "${dir}": not found`);
    }
    if (error instanceof Deno.errors.NotADirectory) {
      throw new Error(`Cannot read folder "${dir}": not a folder`);
    }
    throw error;
  }
  return stems;
}
