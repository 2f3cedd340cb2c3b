/**
 * Generates `fixtures/mess/synthetic/`: a tiny dataset in the user-dataset layout
 * (`classes.json`, `images_detectron2/{train,test}`, `annotations_detectron2/{train,test}`) whose
 * three classes are easy to learn: red discs and blue bars on a textured green-grey background,
 * with 255 (ignore) pixels along some borders. Image sizes straddle the small test models' input
 * sides (128, 256) so that both the resize path and the tiling path are exercised; PNG and JPEG
 * images and grey and palette label PNGs all occur.
 *
 * Deterministic: every pixel comes from a seeded generator, so running it twice gives identical
 * bytes.
 *
 *     deno run -A scripts/make_fixtures.ts [out_dir]
 *
 * @module
 */
import sharp from "sharp";
import { mulberry32 } from "../lib/nn/prng.ts";
import { encodeLabelPng } from "../lib/image/label_png.ts";

const CLASS_NAMES = ["background", "disc", "bar"];
const IGNORE = 255;

interface FixtureImage {
  split: "train" | "test";
  width: number;
  height: number;
  format: "png" | "jpg";
  /** Store the label as a palette PNG rather than grey. */
  paletteLabel: boolean;
}

const IMAGES: FixtureImage[] = [
  { split: "train", width: 96, height: 64, format: "png", paletteLabel: false },
  { split: "train", width: 128, height: 128, format: "jpg", paletteLabel: false },
  { split: "train", width: 200, height: 150, format: "png", paletteLabel: true },
  { split: "train", width: 300, height: 180, format: "jpg", paletteLabel: false },
  { split: "train", width: 64, height: 96, format: "jpg", paletteLabel: false },
  { split: "train", width: 160, height: 120, format: "png", paletteLabel: false },
  { split: "train", width: 128, height: 96, format: "jpg", paletteLabel: false },
  { split: "train", width: 180, height: 280, format: "png", paletteLabel: false },
  { split: "test", width: 96, height: 64, format: "jpg", paletteLabel: false },
  { split: "test", width: 128, height: 128, format: "png", paletteLabel: false },
  { split: "test", width: 200, height: 150, format: "jpg", paletteLabel: true },
  { split: "test", width: 300, height: 180, format: "png", paletteLabel: false },
];

/** Draws one image and its label from `seed`. */
function drawScene(width: number, height: number, seed: number) {
  const random = mulberry32(seed);
  const image = new Uint8Array(width * height * 3);
  const label = new Uint8Array(width * height);
  // Background: green-grey, blocky noise (4x4 cells compress well) plus faint diagonal stripes.
  const cells = Math.ceil(width / 4) * Math.ceil(height / 4);
  const noise = Array.from({ length: cells }, () => Math.floor(random() * 24) - 12);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = noise[Math.floor(y / 4) * Math.ceil(width / 4) + Math.floor(x / 4)]!;
      const stripe = (x + y) % 16 < 8 ? 6 : 0;
      const i = (y * width + x) * 3;
      image[i] = 110 + n + stripe;
      image[i + 1] = 130 + n + stripe;
      image[i + 2] = 100 + n;
    }
  }
  const paint = (x: number, y: number, cls: number, rgb: [number, number, number]) => {
    const i = y * width + x;
    label[i] = cls;
    image[i * 3] = rgb[0];
    image[i * 3 + 1] = rgb[1];
    image[i * 3 + 2] = rgb[2];
  };
  const side = Math.min(width, height);
  // Bars (class 2): blue, horizontal or vertical.
  const bars = 1 + Math.floor(random() * 2);
  for (let b = 0; b < bars; b++) {
    const thickness = Math.max(4, Math.floor(side * (0.08 + random() * 0.06)));
    const horizontal = random() < 0.5;
    const length = Math.floor((horizontal ? width : height) * (0.4 + random() * 0.4));
    const bw = horizontal ? length : thickness;
    const bh = horizontal ? thickness : length;
    const x0 = Math.floor(random() * (width - bw));
    const y0 = Math.floor(random() * (height - bh));
    const shade = Math.floor(random() * 30);
    for (let y = y0; y < y0 + bh; y++) {
      for (let x = x0; x < x0 + bw; x++) paint(x, y, 2, [30 + shade, 60 + shade, 200 - shade]);
    }
  }
  // Discs (class 1): red, drawn over the bars.
  const discs = 1 + Math.floor(random() * 3);
  for (let d = 0; d < discs; d++) {
    const radius = Math.max(5, Math.floor(side * (0.1 + random() * 0.12)));
    const cx = radius + Math.floor(random() * (width - 2 * radius));
    const cy = radius + Math.floor(random() * (height - 2 * radius));
    const shade = Math.floor(random() * 30);
    for (let y = cy - radius; y <= cy + radius; y++) {
      for (let x = cx - radius; x <= cx + radius; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= radius * radius) {
          paint(x, y, 1, [210 - shade, 40 + shade, 40]);
        }
      }
    }
  }
  // Ignore pixels: a 2-pixel frame on about half of the images (unannotated borders).
  if (random() < 0.5) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (x < 2 || y < 2 || x >= width - 2 || y >= height - 2) label[y * width + x] = IGNORE;
      }
    }
  }
  return { image, label };
}

/** A palette for label PNGs: one colour per class, black elsewhere, white for ignore. */
function labelPalette(): Uint8Array {
  const palette = new Uint8Array(256 * 3);
  palette.set([40, 120, 40, 220, 40, 40, 40, 60, 220], 0);
  palette.set([255, 255, 255], IGNORE * 3);
  return palette;
}

/** Writes the fixture dataset under `outDir` and returns the files written. */
export async function makeFixtures(outDir: string): Promise<string[]> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  const written: string[] = [];
  const write = async (path: string, bytes: Uint8Array) => {
    await Deno.writeFile(`${outDir}/${path}`, bytes);
    written.push(path);
  };
  for (const split of ["train", "test"]) {
    await Deno.mkdir(`${outDir}/images_detectron2/${split}`, { recursive: true });
    await Deno.mkdir(`${outDir}/annotations_detectron2/${split}`, { recursive: true });
  }
  await write("classes.json", new TextEncoder().encode(JSON.stringify(CLASS_NAMES) + "\n"));
  for (const [index, spec] of IMAGES.entries()) {
    const { width, height } = spec;
    const { image, label } = drawScene(width, height, 1000 + index);
    const stem = `${spec.split}_${String(index).padStart(3, "0")}_${width}x${height}`;
    const encoder = sharp(image, { raw: { width, height, channels: 3 } });
    const encoded = spec.format === "png"
      ? await encoder.png({ compressionLevel: 9 }).toBuffer()
      : await encoder.jpeg({ quality: 90 }).toBuffer();
    await write(`images_detectron2/${spec.split}/${stem}.${spec.format}`, new Uint8Array(encoded));
    const labelPng = await encodeLabelPng(label, {
      width,
      height,
      palette: spec.paletteLabel ? labelPalette() : undefined,
    });
    await write(`annotations_detectron2/${spec.split}/${stem}.png`, labelPng);
  }
  return written;
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? new URL("../fixtures/mess/synthetic", import.meta.url).pathname;
  const files = await makeFixtures(outDir);
  console.log(`wrote ${files.length} files to ${outDir}`);
}
