/**
 * Masks2Boxes: the box of a predicted mask, and how confident the mask is.
 *
 * The box is the tight box of the mask's pixels (logit > 0) in the exclusive convention of
 * detectron2's `BitMasks.get_bounding_boxes` and mmdet's `mask2bbox`: `x2` is the last column + 1,
 * so a box of continuous pixel coordinates covers exactly the pixels (pixel column c spans
 * `[c, c + 1)`), its width is `x2 - x1`, and COCO's xywh is `[x1, y1, x2 - x1, y2 - y1]`.
 * (torchvision's `masks_to_boxes` and SAM's `batched_mask_to_box` give the inclusive `x2 = last
 * column` instead.) An empty mask has no box: it is no detection.
 *
 * @module
 */

/** A box as corners: `[x1, y1, x2, y2]`, x2 and y2 exclusive. */
export type BoxXyxy = [x1: number, y1: number, x2: number, y2: number];

/** A mask's box and its mask score. */
export interface MaskBox {
  box: BoxXyxy;
  /** Pixels with logit > 0. */
  pixels: number;
  /** Mean sigmoid of the logits over those pixels (mmdet's mask score), in (0.5, 1]. */
  meanProbability: number;
}

/**
 * The box of the mask `logits` (`[height, width]`, row-major) at its own resolution, or `null`
 * when no logit is above 0.
 *
 * @example
 * ```ts
 * import { maskToBox } from "./masks_to_boxes.ts";
 * // 4 x 3 image, pixels (row 1, columns 1-2) on
 * const logits = [-1, -1, -1, -1, -1, 2, 2, -1, -1, -1, -1, -1];
 * maskToBox(logits, 4, 3)!.box; // [1, 1, 3, 2]
 * ```
 */
export function maskToBox(
  logits: ArrayLike<number>,
  width: number,
  height: number,
): MaskBox | null {
  if (logits.length !== width * height) {
    throw new RangeError(
      `A ${width}x${height} mask needs ${width * height} logits, got ${logits.length}`,
    );
  }
  let x1 = width;
  let y1 = height;
  let x2 = 0;
  let y2 = 0;
  let pixels = 0;
  let probabilitySum = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const logit = logits[row + x]!;
      if (!(logit > 0)) continue;
      pixels++;
      probabilitySum += 1 / (1 + Math.exp(-logit));
      if (x < x1) x1 = x;
      if (x >= x2) x2 = x + 1;
      if (y < y1) y1 = y;
      y2 = y + 1;
    }
  }
  if (pixels === 0) return null;
  return { box: [x1, y1, x2, y2], pixels, meanProbability: probabilitySum / pixels };
}

/**
 * {@link maskToBox} of each of `count` masks stacked in `logits` (`[count, height, width]`).
 *
 * @example
 * ```ts
 * import { masksToBoxes } from "./masks_to_boxes.ts";
 * masksToBoxes(new Float32Array([1, -1, -1, -1]), 2, 2, 1); // [{ box: [0, 0, 1, 1], ... }, null]
 * ```
 */
export function masksToBoxes(
  logits: Float32Array,
  count: number,
  width: number,
  height: number,
): (MaskBox | null)[] {
  const size = width * height;
  if (logits.length !== count * size) {
    throw new RangeError(
      `${count} masks of ${width}x${height} need ${count * size} logits, got ${logits.length}`,
    );
  }
  return Array.from(
    { length: count },
    (_, i) => maskToBox(logits.subarray(i * size, (i + 1) * size), width, height),
  );
}
