/**
 * Scoring a model on a dataset split the way MESS does: every image predicted at its own
 * resolution, one confusion matrix over the split, MESS's scores, optionally one shard of the
 * images at a time (merged later, exactly, with `mergeScores`).
 *
 * @module
 */
import { prefetch } from "../data/prefetch.ts";
import { readSample, type Sample, type SegmentationReader } from "../data/reader.ts";
import type { ImageLabelPair } from "../data/pairing.ts";
import type { RasterImage } from "../image/decode.ts";
import { ConfusionMatrix } from "../metrics/confusion.ts";
import { makeScoreReport, type ScoreReport } from "../metrics/report.ts";
import { type PredictFn, predictImage } from "./predict_image.ts";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Score only images `i` with `i % count === index` (in sorted stem order). */
  shard?: { index: number; count: number };
  /** Tiles per forward pass; default 1. */
  batchSize?: number;
  /**
   * Pixels shared by neighbouring tiles; default the reader's `overlap` (0 when unset). S/8 keeps
   * every scored pixel away from a tile border.
   */
  overlap?: number;
  /** Called after each image with its prediction (e.g. to write it as a PNG). */
  onImage?: (result: EvaluatedImage) => void | Promise<void>;
}

/** One scored image. */
export interface EvaluatedImage {
  pair: ImageLabelPair;
  /** Position of the image in the split's sorted order. */
  index: number;
  /** Class index per pixel at the image's original size. */
  prediction: RasterImage;
  tiles: number;
}

/** What {@link evaluate} returns. */
export interface EvaluationResult {
  /** Images scored. */
  images: number;
  /** Tiles predicted. */
  tiles: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** MESS's scores with the confusion matrix (mergeable across shards). */
  report: ScoreReport;
}

/**
 * Evaluates `predict` on the split `reader` reads (its tile `size` and `overlap`; its seed is
 * ignored: images go in sorted stem order so that shards are stable).
 *
 * @example
 * ```ts ignore
 * const reader = new SegmentationReader(await loadSplit(dataset), { size: 1024 });
 * const { report } = await evaluate((x) => model.forward(x), reader, { overlap: 128 });
 * console.log(report.miou);
 * ```
 */
export async function evaluate(
  predict: PredictFn,
  reader: SegmentationReader,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const started = performance.now();
  const { shard } = options;
  if (shard) checkShard(shard);
  const numClasses = reader.numClasses;
  const matrix = new ConfusionMatrix(numClasses);
  const chosen = reader.split.pairs
    .map((pair, index) => ({ pair, index }))
    .filter(({ index }) => !shard || index % shard.count === shard.index);
  let images = 0;
  let tiles = 0;
  for await (const { sample, index } of prefetch(readChosen(reader, chosen), 1)) {
    if (!sample) continue;
    const { classes, tiles: count } = await predictImage(predict, sample.image, {
      size: reader.options.size,
      overlap: options.overlap ?? reader.options.overlap ?? 0,
      numClasses,
      batchSize: options.batchSize,
      label: sample.label,
    });
    matrix.add(classes.data, sample.label!.data);
    images++;
    tiles += count;
    await options.onImage?.({ pair: sample.pair, index, prediction: classes, tiles: count });
  }
  const dataset = reader.split.dataset;
  const report = makeScoreReport(matrix, {
    classNames: dataset.classNames,
    images,
    classesOfInterest: dataset.classesOfInterest,
  });
  return { images, tiles, seconds: (performance.now() - started) / 1000, report };
}

/**
 * Throws a `RangeError` unless `shard` is an index in [0, count) of a positive count.
 *
 * @example
 * ```ts
 * import { checkShard } from "./evaluate.ts";
 * checkShard({ index: 1, count: 4 }); // fine; { index: 4, count: 4 } throws
 * ```
 */
export function checkShard(shard: { index: number; count: number }): void {
  const { index, count } = shard;
  if (
    !Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 ||
    index >= count
  ) {
    throw new RangeError(`Shard must be an index in [0, count), got ${index} of ${count}`);
  }
}

/** Decodes the chosen images in order; under `skipBad` an unreadable one is reported and skipped. */
async function* readChosen(
  reader: SegmentationReader,
  chosen: { pair: ImageLabelPair; index: number }[],
): AsyncGenerator<{ sample: Sample | null; index: number }> {
  for (const { pair, index } of chosen) {
    try {
      yield { sample: await readSample(pair, { numClasses: reader.numClasses }), index };
    } catch (error) {
      if (!reader.options.skipBad) throw error;
      const skipped = { path: pair.imagePath, reason: (error as Error).message };
      reader.skipped.push(skipped);
      reader.options.onSkip?.(skipped);
      yield { sample: null, index };
    }
  }
}
