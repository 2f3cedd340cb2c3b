/**
 * Scoring a folder of predicted class-map PNGs against a folder of ground-truth label PNGs.
 *
 * @module
 */
import { readLabelPng } from "../image/label_png.ts";
import { checkLabelValues } from "../data/label_values.ts";
import { pairImagesWithLabels } from "../data/pairing.ts";
import { ConfusionMatrix } from "./confusion.ts";
import { makeScoreReport } from "./report.ts";
import type { ScoreReport } from "./report.ts";

/** Options of {@link scoreLabelFolders}. */
export interface ScoreFoldersOptions {
  /** Class names; their count is the number of classes. */
  classNames: readonly string[];
  /** Classes of interest, for MESS's CoI scores. */
  classesOfInterest?: readonly number[];
  /** Called after each scored image, e.g. for progress (the library never prints). */
  onImage?: (done: number, total: number) => void;
}

/**
 * Scores every ground-truth PNG of `gtDir` against the PNG of the same stem in `predDir`, both
 * single-channel class maps at the same resolution, as MESS does (one confusion matrix over all
 * images). A missing prediction, a size mismatch or an out-of-range value is an error naming
 * the file. Predictions without a ground truth are ignored.
 *
 * @example
 * ```ts ignore
 * const report = await scoreLabelFolders("out/pred", "kvasir-instrument/annotations_detectron2/test", {
 *   classNames: ["others", "tool"],
 * });
 * console.log(report.miou);
 * ```
 */
export async function scoreLabelFolders(
  predDir: string,
  gtDir: string,
  options: ScoreFoldersOptions,
): Promise<ScoreReport> {
  const numClasses = options.classNames.length;
  const matrix = new ConfusionMatrix(numClasses);
  // Pairing "images" = predictions with "labels" = ground truth, by stem.
  const { pairs, labelsWithoutImage } = await pairImagesWithLabels(predDir, gtDir, {
    imageSuffix: [".png", ".PNG"],
    labelSuffix: [".png", ".PNG"],
  });
  if (labelsWithoutImage.length > 0) {
    const gtPath = labelsWithoutImage[0]!;
    const more = labelsWithoutImage.length > 1
      ? ` (and ${labelsWithoutImage.length - 1} more)`
      : "";
    throw new Error(`Cannot score "${gtPath}": no prediction for it in "${predDir}"${more}`);
  }
  if (pairs.length === 0) throw new Error(`Cannot score "${gtDir}": no label PNGs in it`);
  for (const [i, { imagePath: predPath, labelPath: gtPath }] of pairs.entries()) {
    const [prediction, groundTruth] = await Promise.all([
      readLabelPng(predPath),
      readLabelPng(gtPath),
    ]);
    if (prediction.width !== groundTruth.width || prediction.height !== groundTruth.height) {
      throw new Error(
        `Cannot score "${predPath}": it is ${prediction.width}x${prediction.height}, ground truth ` +
          `"${gtPath}" is ${groundTruth.width}x${groundTruth.height}`,
      );
    }
    checkLabelValues(groundTruth.data, numClasses, gtPath);
    try {
      matrix.add(prediction.data, groundTruth.data);
    } catch (error) {
      throw new Error(`Cannot score "${predPath}": ${(error as Error).message}`);
    }
    options.onImage?.(i + 1, pairs.length);
  }
  return makeScoreReport(matrix, {
    classNames: options.classNames,
    images: pairs.length,
    classesOfInterest: options.classesOfInterest,
  });
}
