/**
 * Resizing decoded images, through sharp.
 *
 * @module
 */
import sharp from "sharp";
import { type RasterImage, rasterOf } from "./decode.ts";

export { longestSideSize } from "./longest_side.ts";

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
