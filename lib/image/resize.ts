/**
 * Resizing decoded images, through sharp.
 *
 * @module
 */
import sharp from "sharp";
import { type RasterImage, rasterOf } from "./decode.ts";

/**
 * The size SAM resizes an `height x width` image to so that its longer side is `target`:
 * scale = target / max(h, w), each side `floor(side * scale + 0.5)`.
 *
 * @example
 * ```ts
 * longestSideSize(200, 300, 1024); // { height: 683, width: 1024 }
 * ```
 */
export function longestSideSize(
  height: number,
  width: number,
  target: number,
): { height: number; width: number } {
  const scale = target / Math.max(height, width);
  return {
    height: Math.floor(height * scale + 0.5),
    width: Math.floor(width * scale + 0.5),
  };
}

/**
 * Resizes an image bilinearly (antialiased when shrinking, like PIL's bilinear filter that SAM's
 * official preprocessing uses). Returns the input untouched when the size already matches.
 */
export async function resizeImage(
  image: RasterImage,
  height: number,
  width: number,
): Promise<RasterImage> {
  if (image.height === height && image.width === width) return image;
  return rasterOf(
    await sharp(image.data, {
      raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 | 4 },
    })
      .resize(width, height, { kernel: "linear", fit: "fill", fastShrinkOnLoad: false })
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
}
