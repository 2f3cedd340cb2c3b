/**
 * Small builders for detection scoring tests.
 *
 * @module
 */
import type { DetectionObject } from "../../lib/data/detection_split.ts";
import type { BoxXywh } from "../../lib/image/box.ts";
import type { ScoredDetection } from "../../lib/data/detections.ts";

/** A ground-truth object of class 0 (unless overridden) whose area is its box's. */
export function truth(bbox: BoxXywh, options: Partial<DetectionObject> = {}): DetectionObject {
  return {
    classIndex: 0,
    bbox,
    area: bbox[2] * bbox[3],
    iscrowd: false,
    difficult: false,
    ...options,
  };
}

/** A detection. */
export function det(bbox: BoxXywh, score: number, classIndex = 0): ScoredDetection {
  return { classIndex, bbox, score };
}

/** Asserts `actual` is a number within 1e-12 of `expected`. */
export function assertClose(actual: number | null | undefined, expected: number, label: string) {
  if (typeof actual !== "number" || !(Math.abs(actual - expected) < 1e-12)) {
    throw new Error(`${label}: ${actual} != ${expected}`);
  }
}
