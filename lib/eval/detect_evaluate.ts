/**
 * Scoring a detection run on a detection split: every image detected at its own resolution
 * (lib/eval/detect_image.ts), class names matched between the run and the dataset, COCO box AP
 * and the DOTA/FAIR-1M VOC07 mAP over the split, optionally one shard of the images at a time
 * (the report keeps each image's detections, so shards merge exactly).
 *
 * @module
 */
import { remapDetectionSplit } from "../data/detection_classes.ts";
import { DetectionReader } from "../data/detection_reader.ts";
import type { DetectionImage, DetectionSplit } from "../data/detection_split.ts";
import type { SkippedFile } from "../data/split.ts";
import type { EvalImage, ScoredDetection } from "../data/detections.ts";
import { type DetectionReport, makeDetectionReport } from "../metrics/detection_report.ts";
import { type DetectFn, detectImage } from "./detect_image.ts";
import { checkShard } from "./evaluate.ts";

/** Options of {@link evaluateDetections}. */
export interface DetectionEvaluationOptions {
  /** Model input side S. */
  size: number;
  /** The run's class names (matched to the dataset's by name). */
  classNames: readonly string[];
  /** Score only images `i` with `i % count === index` (in image id order). */
  shard?: { index: number; count: number };
  /** Pixels shared by neighbouring tiles; default 0. */
  overlap?: number;
  /** Tiles per forward pass; default 1. */
  batchSize?: number;
  /** Skip unreadable images (reported to `onSkip`) instead of failing. */
  skipBad?: boolean;
  onSkip?: (skipped: SkippedFile) => void;
  /** Called after each image with its detections (the run's class indices). */
  onImage?: (image: DetectedImage) => void | Promise<void>;
  /** Told when the ground truth's annotation ids are zero or repeat (`makeDetectionReport`). */
  onWarning?: (message: string) => void;
}

/** One detected image. */
export interface DetectedImage {
  source: DetectionImage;
  detections: ScoredDetection[];
  tiles: number;
}

/** What {@link evaluateDetections} returns. */
export interface DetectionEvaluation {
  images: number;
  tiles: number;
  seconds: number;
  report: DetectionReport;
}

/**
 * The images of `split` that shard `shard` scores (all without one), in id order.
 *
 * @example
 * ```ts ignore
 * shardImages(split, { index: 1, count: 4 }); // images 1, 5, 9, ...
 * ```
 */
export function shardImages(
  split: DetectionSplit,
  shard?: { index: number; count: number },
): DetectionImage[] {
  if (shard) checkShard(shard);
  const images = [...split.images].sort((a, b) => a.id - b.id);
  return shard ? images.filter((_, i) => i % shard.count === shard.index) : images;
}

/**
 * Detects every image of `split` (or of one shard) with `detect` and scores the detections in
 * the run's classes (the split's matched by name: `remapDetectionSplit`, which refuses a split
 * whose objects are of a class the run lacks).
 *
 * @example
 * ```ts ignore
 * const { report } = await evaluateDetections((x) => model.detect(x), split, { size: 1024, classNames });
 * report.ap50;
 * ```
 */
export async function evaluateDetections(
  detect: DetectFn,
  split: DetectionSplit,
  options: DetectionEvaluationOptions,
): Promise<DetectionEvaluation> {
  const started = performance.now();
  // Scored in the run's classes: the split's objects take the run's class indices by name.
  const scoredSplit = remapDetectionSplit(split, options.classNames);
  const chosen = shardImages(scoredSplit, options.shard);
  const reader = new DetectionReader({ ...scoredSplit, images: chosen }, {
    size: options.size,
    overlap: options.overlap,
    skipBad: options.skipBad,
    onSkip: options.onSkip,
  });
  const scored: EvalImage[] = [];
  let tiles = 0;
  for await (const sample of reader.samples()) {
    const result = await detectImage(detect, sample.image, {
      size: options.size,
      overlap: options.overlap,
      batchSize: options.batchSize,
    });
    const detections = result.detections;
    scored.push({ id: sample.source.id, objects: sample.source.objects, detections });
    tiles += result.tiles;
    await options.onImage?.({ source: sample.source, detections, tiles: result.tiles });
  }
  const report = makeDetectionReport(scored, {
    classNames: scoredSplit.classNames,
    categories: scoredSplit.categories,
    groundTruth: split.source,
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  return { images: scored.length, tiles, seconds: (performance.now() - started) / 1000, report };
}
