/**
 * Overlays of a class map on its image (the colours are `class_palette.ts`'s).
 *
 * @module
 */
import sharp from "sharp";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { RasterImage } from "./decode.ts";

export { classPalette } from "./class_palette.ts";

/**
 * Writes `image` with the class colours blended over it (half opacity; class 0 left clear) as an
 * RGB PNG, atomically.
 */
export async function writeOverlayPng(
  path: string,
  image: RasterImage,
  classes: RasterImage,
  palette: Uint8Array,
): Promise<void> {
  if (image.width !== classes.width || image.height !== classes.height) {
    throw new RangeError(
      `writeOverlayPng() needs equal sizes, got image ${image.width}x${image.height} and classes ${classes.width}x${classes.height}`,
    );
  }
  const pixels = image.width * image.height;
  const blended = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const c = classes.data[i]!;
    for (let k = 0; k < 3; k++) {
      const base = image.data[i * image.channels + Math.min(k, image.channels - 1)]!;
      blended[i * 3 + k] = c === 0 ? base : Math.round(0.5 * base + 0.5 * palette[c * 3 + k]!);
    }
  }
  const png = await sharp(blended, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png()
    .toBuffer();
  await writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.byteLength));
}
