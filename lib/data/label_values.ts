/**
 * Checking that a label map holds only class indices and the ignore value.
 *
 * @module
 */

/** Label value meaning "not annotated": never scored, never trained on. */
export const IGNORE_LABEL = 255;

/**
 * Throws when `label` holds a value that is neither a class index (< `numClasses`) nor 255,
 * naming the smallest such value and how many pixels have it:
 * `Cannot read label "a.png": value 7 at 120 pixels is not a class (3 classes; 255 = ignore)`.
 *
 * @example
 * ```ts
 * import { checkLabelValues } from "./label_values.ts";
 * checkLabelValues(new Uint8Array([0, 1, 255]), 2, "a.png"); // fine
 * ```
 */
export function checkLabelValues(label: Uint8Array, numClasses: number, path: string): void {
  // Uint32 counts suffice: a label PNG has fewer than 2^32 pixels.
  const histogram = new Uint32Array(256);
  for (let i = 0; i < label.length; i++) histogram[label[i]!]!++;
  for (let value = numClasses; value < IGNORE_LABEL; value++) {
    const pixels = histogram[value]!;
    if (pixels > 0) {
      throw new RangeError(
        `Cannot read label "${path}": value ${value} at ${pixels} pixel${
          pixels === 1 ? "" : "s"
        } ` +
          `is not a class (${numClasses} classes; ${IGNORE_LABEL} = ignore)`,
      );
    }
  }
}
