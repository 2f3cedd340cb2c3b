/**
 * The browser's stand-in for `resize.ts` (which resizes through sharp, native code a page cannot
 * load): the same exports, with a pure-TypeScript bilinear filter (`resample.ts`). The web page's
 * bundle links this module in place of `resize.ts` (see `lib/web/browser_imports.json`).
 *
 * libvips's filter and this one round differently, so an image whose tiles are resized (one
 * smaller than the model's input side) gets slightly different pixels in the browser than in
 * `mopeft predict`; tiles of larger images, and of images exactly the model's side, are cut
 * without resizing and are identical in both.
 *
 * @module
 */
import type { RasterImage } from "./decode.ts";
import { resizeBilinear } from "./resample.ts";

export { longestSideSize } from "./longest_side.ts";

/** Resizes an image bilinearly; returns the input untouched when the size already matches. */
export function resizeImage(
  image: RasterImage,
  height: number,
  width: number,
): Promise<RasterImage> {
  if (image.height === height && image.width === width) return Promise.resolve(image);
  const data = resizeBilinear(image.data, image, { width, height });
  return Promise.resolve({ data, width, height, channels: image.channels });
}
