/**
 * The confusion matrix a semantic-segmentation evaluation accumulates over a whole split.
 *
 * @module
 */

/** Label value that is never counted. */
const IGNORE_LABEL = 255;

/**
 * Pixel counts `counts[pred * n + gt]` over every pixel whose ground truth is not 255. Counts are
 * float64, exact up to 2^53 pixels (about 9e15), far beyond any dataset.
 *
 * @example
 * ```ts
 * import { ConfusionMatrix } from "./confusion.ts";
 * const matrix = new ConfusionMatrix(2);
 * matrix.add(new Uint8Array([0, 1, 1]), new Uint8Array([0, 0, 255]));
 * matrix.get(1, 0); // 1: one pixel predicted 1 where the truth is 0
 * ```
 */
export class ConfusionMatrix {
  readonly numClasses: number;
  /** `[pred, gt]`, row-major: `counts[pred * numClasses + gt]`. */
  readonly counts: Float64Array;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) {
      throw new RangeError(`Number of classes must be an integer in [1, 255], got ${numClasses}`);
    }
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Pixels predicted as `pred` whose ground truth is `gt`. */
  get(pred: number, gt: number): number {
    return this.counts[pred * this.numClasses + gt]!;
  }

  /**
   * Counts one image's pixels. Ground truth 255 is skipped; any other value must be a class, and
   * so must every prediction at a counted pixel (a `RangeError` names the value otherwise).
   */
  add(prediction: ArrayLike<number>, groundTruth: ArrayLike<number>): void {
    if (prediction.length !== groundTruth.length) {
      throw new RangeError(
        `Prediction has ${prediction.length} pixels, ground truth has ${groundTruth.length}`,
      );
    }
    const n = this.numClasses;
    for (let i = 0; i < groundTruth.length; i++) {
      const gt = groundTruth[i]!;
      if (gt === IGNORE_LABEL) continue;
      const pred = prediction[i]!;
      if (!(gt >= 0 && gt < n && Number.isInteger(gt))) {
        throw new RangeError(
          `ground-truth value ${gt} at pixel ${i} is not a class (${n} classes)`,
        );
      }
      if (!(pred >= 0 && pred < n && Number.isInteger(pred))) {
        throw new RangeError(`predicted value ${pred} at pixel ${i} is not a class (${n} classes)`);
      }
      this.counts[pred * n + gt]!++;
    }
  }

  /** Adds another matrix's counts (e.g. a shard scored elsewhere). */
  addMatrix(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses) {
      throw new RangeError(
        `Cannot add a ${other.numClasses}-class confusion matrix to a ${this.numClasses}-class one`,
      );
    }
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
  }

  /** The counts as nested arrays, `rows[pred][gt]` (the JSON form). */
  toRows(): number[][] {
    const n = this.numClasses;
    return Array.from(
      { length: n },
      (_, pred) => Array.from(this.counts.subarray(pred * n, (pred + 1) * n)),
    );
  }

  /**
   * Builds a matrix from `rows[pred][gt]`; every entry must be a non-negative integer.
   *
   * @example
   * ```ts
   * import { ConfusionMatrix } from "./confusion.ts";
   * const matrix = ConfusionMatrix.fromRows([[5, 1], [0, 3]]);
   * ```
   */
  static fromRows(rows: readonly (readonly number[])[]): ConfusionMatrix {
    const matrix = new ConfusionMatrix(rows.length);
    rows.forEach((row, pred) => {
      if (!Array.isArray(row) || row.length !== rows.length) {
        throw new RangeError(
          `Confusion row ${pred} has ${row?.length} entries, expected ${rows.length}`,
        );
      }
      row.forEach((count, gt) => {
        if (!Number.isSafeInteger(count) || count < 0) {
          throw new RangeError(`Confusion entry [${pred}][${gt}] is ${count}, expected a count`);
        }
        matrix.counts[pred * rows.length + gt] = count;
      });
    });
    return matrix;
  }
}
