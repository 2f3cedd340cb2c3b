/**
 * Drawing detections on their image as a PNG (the boxes and labels are `detections_svg.ts`'s).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { RasterImage } from "../image/decode.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { ScoredDetection } from "../data/detections.ts";
import { detectionsSvg, type DrawOptions } from "./detections_svg.ts";

export { detectionsSvg, type DrawOptions } from "./detections_svg.ts";

/**
 * Writes `image` with `detections` drawn on it as an RGB PNG, atomically.
 *
 * @example
 * ```ts ignore
 * await writeDetectionsPng("out/a_boxes.png", image, detections, { classNames, palette, minScore: 0.3 });
 * ```
 */
export async function writeDetectionsPng(
  path: string,
  image: RasterImage,
  detections: readonly ScoredDetection[],
  options: DrawOptions,
): Promise<void> {
  const svg = detectionsSvg(detections, image.width, image.height, options);
  const png = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels as 3 },
  })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
  await writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.byteLength));
}
