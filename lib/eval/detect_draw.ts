/**
 * Drawing detections on their image as a PNG: the boxes, labels and legend are
 * `detections_svg.ts`'s, rasterised onto the image with the legend strip added below it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { RasterImage } from "../image/decode.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { ScoredDetection } from "../data/detections.ts";
import { detectionsSvg, type DrawOptions, layoutDetections } from "./detections_svg.ts";

export {
  type DetectionLayout,
  detectionsSvg,
  type DrawnDetection,
  type DrawOptions,
  type LabelRect,
  layoutDetections,
  type LegendEntry,
} from "./detections_svg.ts";

/**
 * Writes `image` with `detections` drawn on it, and the legend strip below it, as an RGB PNG,
 * atomically.
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
  const layout = layoutDetections(detections, image.width, image.height, options);
  const svg = detectionsSvg(detections, image.width, image.height, options, layout);
  const png = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels as 3 },
  })
    .extend({ bottom: layout.legendHeight, background: { r: 24, g: 24, b: 24 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
  await writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.byteLength));
}
