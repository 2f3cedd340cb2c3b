/**
 * Drawing detections on their image: each box outlined in its class's colour, its class name and
 * score on a label above it, as a PNG.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { RasterImage } from "../image/decode.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { ScoredDetection } from "../data/detections.ts";

/** Options of {@link detectionsSvg} and {@link writeDetectionsPng}. */
export interface DrawOptions {
  classNames: readonly string[];
  /** RGB per class, `[3 * C]` (lib/image/palette.ts `classPalette`). */
  palette: Uint8Array;
  /** Detections below this score are not drawn; default 0. */
  minScore?: number;
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * An SVG of `width x height` with the boxes (xywh, image pixels) and their labels, weakest first
 * so that the strongest are drawn on top.
 *
 * @example
 * ```ts
 * import { detectionsSvg } from "./detect_draw.ts";
 * const svg = detectionsSvg([{ classIndex: 0, bbox: [4, 4, 20, 10], score: 0.9 }], 64, 48, {
 *   classNames: ["car"], palette: new Uint8Array([255, 0, 0]),
 * });
 * svg.includes("car 0.90"); // true
 * ```
 */
export function detectionsSvg(
  detections: readonly ScoredDetection[],
  width: number,
  height: number,
  options: DrawOptions,
): string {
  const { classNames, palette, minScore = 0 } = options;
  const font = Math.max(9, Math.round(Math.min(width, height) / 40));
  const stroke = Math.max(1, Math.round(font / 6));
  const shapes: string[] = [];
  const drawn = detections.filter((d) => d.score >= minScore).sort((a, b) => a.score - b.score);
  for (const { classIndex, bbox: [x, y, w, h], score } of drawn) {
    const colour = `rgb(${palette[classIndex * 3] ?? 255},${palette[classIndex * 3 + 1] ?? 0},${
      palette[classIndex * 3 + 2] ?? 0
    })`;
    const label = `${escapeXml(classNames[classIndex] ?? String(classIndex))} ${score.toFixed(2)}`;
    const labelY = y >= font + 2 ? y - font - 2 : y;
    const labelWidth = Math.ceil(label.length * font * 0.6) + 4;
    shapes.push(
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" ` +
        `stroke-width="${stroke}"/>`,
      `<rect x="${x}" y="${labelY}" width="${labelWidth}" height="${font + 2}" fill="${colour}"/>`,
      `<text x="${x + 2}" y="${labelY + font - 1}" font-family="sans-serif" font-size="${font}" ` +
        `fill="white">${label}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    shapes.join("") + "</svg>";
}

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
