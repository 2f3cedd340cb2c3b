/**
 * Colours for class maps (plain arithmetic: the web page uses the same palette as `predict`).
 *
 * @module
 */

// Okabe-Ito: distinguishable with the common colour-vision deficiencies. Class 0 (usually the
// background) is black.
const BASE_COLOURS: ReadonlyArray<[number, number, number]> = [
  [0, 0, 0],
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [240, 228, 66],
  [0, 114, 178],
  [213, 94, 0],
  [204, 121, 167],
];

/**
 * An RGB palette (`3 * numClasses` bytes) for class indices: Okabe-Ito's colours first, then
 * evenly spread hues for larger class counts.
 *
 * @example
 * ```ts
 * import { classPalette } from "./class_palette.ts";
 * classPalette(3).length; // 9
 * ```
 */
export function classPalette(numClasses: number): Uint8Array {
  const palette = new Uint8Array(numClasses * 3);
  for (let c = 0; c < numClasses; c++) {
    let rgb = BASE_COLOURS[c];
    if (!rgb) {
      // Golden-angle hues at full saturation and alternating lightness.
      const hue = (c * 137.508) % 360;
      const lightness = c % 2 === 0 ? 0.45 : 0.65;
      rgb = hslToRgb(hue, 0.8, lightness);
    }
    palette.set(rgb, c * 3);
  }
  return palette;
}

function hslToRgb(hue: number, saturation: number, lightness: number): [number, number, number] {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const x = chroma * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = lightness - chroma / 2;
  const [r, g, b] = hue < 60
    ? [chroma, x, 0]
    : hue < 120
    ? [x, chroma, 0]
    : hue < 180
    ? [0, chroma, x]
    : hue < 240
    ? [0, x, chroma]
    : hue < 300
    ? [x, 0, chroma]
    : [chroma, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
