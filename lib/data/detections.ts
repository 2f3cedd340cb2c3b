/**
 * Predicted boxes, and one image's ground truth paired with the detections made on it: what the
 * detector produces, a COCO results file holds (`coco_results.ts`) and the scorers read
 * (`lib/metrics`).
 *
 * @module
 */
import type { BoxXywh } from "../image/box.ts";
import type { DetectionObject } from "./detection_split.ts";

/** One predicted box. */
export interface ScoredDetection {
  /** Index into the split's class names. */
  classIndex: number;
  bbox: BoxXywh;
  score: number;
}

/** One image's ground truth and detections, as scorers take them. */
export interface EvalImage {
  id: number;
  objects: readonly DetectionObject[];
  detections: readonly ScoredDetection[];
}
