/**
 * Drawing detections on their image, so that every drawn detection can be read: each box outlined
 * in its class's colour, its class name and score on a label that covers no other label, and a
 * legend (class colour, name, count) in a strip below the image, as SVG (plain text:
 * `predict --color` rasterises it onto the image, the web page shows it as is).
 *
 * Labels are placed strongest detection first, each at the first free place of: above its box,
 * inside its top edge, below it, inside its bottom edge (left-aligned with the box, then
 * right-aligned), then stacked further above or below the box, then anywhere free in the image,
 * nearest first, with a leader line to its box when it does not touch it. A label never leaves the
 * image; one that finds no free place (more labels than the image has room for) is left out, and
 * the legend says how many were.
 *
 * @module
 */
import type { ScoredDetection } from "../data/detections.ts";

/** Options of {@link detectionsSvg} and {@link writeDetectionsPng}. */
export interface DrawOptions {
  classNames: readonly string[];
  /** RGB per class, `[3 * C]` (lib/image/palette.ts `classPalette`). */
  palette: Uint8Array;
  /** Detections below this score are not drawn; default 0. */
  minScore?: number;
}

/** A rectangle in image pixels. */
export interface LabelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A drawn detection and where its label went. */
export interface DrawnDetection {
  detection: ScoredDetection;
  /** `"<class name> <score>"`. */
  text: string;
  /** `null` when no free place was left in the image. */
  label: LabelRect | null;
  /** The label does not touch its box: a line joins them. */
  leader: boolean;
}

/** One legend entry. */
export interface LegendEntry {
  classIndex: number;
  name: string;
  /** Detections of the class drawn. */
  count: number;
  /** Where the entry's swatch and text go, in the legend strip (y from the image's bottom). */
  x: number;
  y: number;
}

/** Everything {@link detectionsSvg} draws, measured. */
export interface DetectionLayout {
  /** Font size of labels and legend, in pixels. */
  font: number;
  /** Label height (font + 2). */
  labelHeight: number;
  /** Drawn detections, strongest first. */
  drawn: DrawnDetection[];
  legend: LegendEntry[];
  /** Height of the legend strip added below the image. */
  legendHeight: number;
  /** Labels left out for want of room. */
  leftOut: number;
  /** Lines of the legend after its entries ("no detections ...", labels left out). */
  notes: { text: string; y: number }[];
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The width a label of `text` takes at `font` px (a generous sans-serif average, plus padding). */
const textWidth = (text: string, font: number) => Math.ceil(text.length * font * 0.6) + 4;

const overlaps = (a: LabelRect, b: LabelRect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Where each drawn detection's label goes, and the legend.
 *
 * @example
 * ```ts
 * import { layoutDetections } from "./detections_svg.ts";
 * const same = { classIndex: 0, bbox: [20, 20, 30, 20] as [number, number, number, number] };
 * const layout = layoutDetections([{ ...same, score: 0.9 }, { ...same, score: 0.8 }], 128, 96, {
 *   classNames: ["car"], palette: new Uint8Array([255, 0, 0]),
 * });
 * layout.drawn.map((d) => d.label!.y); // [9, 20]: above the box, then inside its top edge
 * ```
 */
export function layoutDetections(
  detections: readonly ScoredDetection[],
  width: number,
  height: number,
  options: DrawOptions,
): DetectionLayout {
  const { classNames, minScore = 0 } = options;
  const font = Math.max(9, Math.round(Math.min(width, height) / 40));
  const labelHeight = font + 2;
  // Strongest first: the best places go to the likeliest detections (a stable sort keeps ties in
  // input order).
  const chosen = detections.filter((d) => d.score >= minScore).sort((a, b) => b.score - a.score);
  const placed: LabelRect[] = [];
  const drawn: DrawnDetection[] = chosen.map((detection) => {
    const text = `${classNames[detection.classIndex] ?? String(detection.classIndex)} ${
      detection.score.toFixed(2)
    }`;
    const labelWidth = Math.min(width, textWidth(text, font));
    const spot = freeSpot(detection.bbox, labelWidth, labelHeight, width, height, placed);
    if (spot) placed.push(spot.rect);
    return { detection, text, label: spot?.rect ?? null, leader: spot?.leader ?? false };
  });
  // The legend: the drawn classes in class order, wrapped across the image's width.
  const counts = new Map<number, number>();
  for (const { detection } of drawn) {
    counts.set(detection.classIndex, (counts.get(detection.classIndex) ?? 0) + 1);
  }
  const legend: LegendEntry[] = [];
  const rowHeight = labelHeight + 4;
  let x = 4;
  let row = 0;
  for (const classIndex of [...counts.keys()].sort((a, b) => a - b)) {
    const name = classNames[classIndex] ?? String(classIndex);
    const entryWidth = labelHeight + 4 + textWidth(`${name} (${counts.get(classIndex)})`, font) + 8;
    if (x > 4 && x + entryWidth > width) {
      x = 4;
      row++;
    }
    legend.push({ classIndex, name, count: counts.get(classIndex)!, x, y: 4 + row * rowHeight });
    x += entryWidth;
  }
  const leftOut = drawn.filter((d) => d.label === null).length;
  const texts: string[] = [];
  if (drawn.length === 0) texts.push(`no detections scoring ${minScore.toFixed(2)} or more`);
  if (leftOut > 0) texts.push(`${leftOut} labels left out: no free place in the image`);
  const entryRows = legend.length > 0 ? row + 1 : 0;
  const notes = texts.map((text, i) => ({ text, y: 4 + (entryRows + i) * rowHeight }));
  const legendHeight = (entryRows + notes.length) * rowHeight + 4;
  return { font, labelHeight, drawn, legend, legendHeight, leftOut, notes };
}

/** The first free place for a label of a box, in the order the module describes. */
function freeSpot(
  [x, y, w, h]: readonly number[],
  labelWidth: number,
  labelHeight: number,
  width: number,
  height: number,
  placed: readonly LabelRect[],
): { rect: LabelRect; leader: boolean } | null {
  if (labelHeight > height) return null;
  const fits = (rect: LabelRect) =>
    rect.x >= 0 && rect.y >= 0 && rect.x + rect.width <= width &&
    rect.y + rect.height <= height && !placed.some((other) => overlaps(rect, other));
  const at = (left: number, top: number): LabelRect => ({
    x: Math.min(Math.max(0, left), width - labelWidth),
    y: top,
    width: labelWidth,
    height: labelHeight,
  });
  const left = x!;
  const right = x! + w! - labelWidth;
  const touching: LabelRect[] = [];
  for (const edge of [left, right]) {
    touching.push(
      at(edge, y! - labelHeight),
      at(edge, y!),
      at(edge, y! + h!),
      at(edge, y! + h! - labelHeight),
    );
  }
  for (const rect of touching) if (fits(rect)) return { rect, leader: false };
  // Stacked: rows further above and below the box, nearest first.
  for (let k = 1; y! - (k + 1) * labelHeight >= 0 || y! + h! + k * labelHeight < height; k++) {
    for (
      const rect of [at(left, y! - (k + 1) * labelHeight), at(left, y! + h! + k * labelHeight)]
    ) {
      if (fits(rect)) return { rect, leader: true };
    }
  }
  // Anywhere free, nearest to the spot above the box first: a grid of half a label's height
  // by a quarter of its width.
  const stepY = Math.max(1, Math.ceil(labelHeight / 2));
  const stepX = Math.max(1, Math.ceil(labelWidth / 4));
  const candidates: LabelRect[] = [];
  for (let top = 0; top + labelHeight <= height; top += stepY) {
    for (let start = 0; start + labelWidth <= width; start += stepX) {
      candidates.push({ x: start, y: top, width: labelWidth, height: labelHeight });
    }
  }
  const distance = (rect: LabelRect) => (rect.x - left) ** 2 + (rect.y - (y! - labelHeight)) ** 2;
  candidates.sort((a, b) => distance(a) - distance(b));
  for (const rect of candidates) if (fits(rect)) return { rect, leader: true };
  return null;
}

/** `rgb(r,g,b)` of class `k`. */
function colourOf(palette: Uint8Array, k: number): string {
  return `rgb(${palette[k * 3] ?? 255},${palette[k * 3 + 1] ?? 0},${palette[k * 3 + 2] ?? 0})`;
}

/**
 * An SVG of `width x (height + legend)` with the boxes (xywh, image pixels; weakest drawn first,
 * so that the strongest are on top), their labels over all boxes, and the legend strip below.
 *
 * @example
 * ```ts
 * import { detectionsSvg } from "./detections_svg.ts";
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
  layout = layoutDetections(detections, width, height, options),
): string {
  const { palette } = options;
  const { font, labelHeight, drawn, legend, legendHeight, notes } = layout;
  const stroke = Math.max(1, Math.round(font / 6));
  const text = (x: number, y: number, content: string, fill: string, fitWidth?: number) =>
    `<text x="${x}" y="${y}" font-family="sans-serif" font-size="${font}" fill="${fill}"` +
    (fitWidth ? ` textLength="${fitWidth}" lengthAdjust="spacingAndGlyphs"` : "") +
    `>${escapeXml(content)}</text>`;
  const shapes: string[] = [];
  for (const { detection: { classIndex, bbox: [x, y, w, h] } } of [...drawn].reverse()) {
    shapes.push(
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" ` +
        `stroke="${colourOf(palette, classIndex)}" stroke-width="${stroke}"/>`,
    );
  }
  for (const { detection, text: content, label, leader } of drawn) {
    if (!label) continue;
    const colour = colourOf(palette, detection.classIndex);
    if (leader) {
      const [x, y, w, h] = detection.bbox;
      const cx = label.x + label.width / 2;
      const cy = label.y + label.height / 2;
      const tx = Math.min(Math.max(cx, x), x + w);
      const ty = Math.min(Math.max(cy, y), y + h);
      shapes.push(
        `<line x1="${cx}" y1="${cy}" x2="${tx}" y2="${ty}" stroke="${colour}" ` +
          `stroke-width="${Math.max(1, stroke / 2)}"/>`,
      );
    }
    shapes.push(
      `<rect x="${label.x}" y="${label.y}" width="${label.width}" height="${label.height}" ` +
        `fill="${colour}"/>`,
      text(label.x + 2, label.y + font - 1, content, "white", label.width - 4),
    );
  }
  // The legend strip.
  shapes.push(
    `<rect x="0" y="${height}" width="${width}" height="${legendHeight}" fill="rgb(24,24,24)"/>`,
  );
  for (const { classIndex, name, count, x, y } of legend) {
    const top = height + y;
    shapes.push(
      `<rect x="${x}" y="${top}" width="${labelHeight}" height="${labelHeight}" ` +
        `fill="${colourOf(palette, classIndex)}"/>`,
      text(x + labelHeight + 4, top + font - 1, `${name} (${count})`, "white"),
    );
  }
  for (const note of notes) {
    shapes.push(text(4, height + note.y + font - 1, note.text, "white"));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${
    height + legendHeight
  }">` + shapes.join("") + "</svg>";
}
