/**
 * The axis-aligned box of pixel coordinates that every detection format, scorer and drawing here
 * shares. Pixel (row r, column c) covers `[c, c + 1) x [r, r + 1)`; a box `[x, y, w, h]` spans
 * `[x, x + w) x [y, y + h)` (COCO's convention, no +1).
 *
 * @module
 */

/** A box as COCO writes it: left, top, width, height. */
export type BoxXywh = [x: number, y: number, width: number, height: number];
