/**
 * Generates the detection fixtures:
 *
 * - `fixtures/detection/`: a small COCO-layout set (`images/{train,val}/*.png`,
 *   `annotations/instances_{train,val}.json`) of three easy classes on a textured green-grey
 *   background: blue squares, red discs and yellow triangles, with polygon segmentations. Image
 *   sizes vary, several beyond a 128-px model input (so those images are tiled), one beyond 256.
 * - `fixtures/detection_fair1m/`: a FAIR-1M-layout sample (`val/images/*.tif`,
 *   `val/labelXml/*.xml`) of two small images with rotated quadrilaterals, for the reader tests.
 *
 * Shapes are drawn with the project's rasteriser (a pixel is painted when its centre lies inside
 * the outline), so every annotation is exactly the pixels drawn. Deterministic: every value
 * comes from a seeded generator, so running it twice gives identical bytes.
 *
 *     deno run -A scripts/make_detection_fixtures.ts [coco_out_dir] [fair1m_out_dir]
 *
 * @module
 */
import sharp from "sharp";
import { polygonArea } from "../lib/data/coco.ts";
import { mulberry32 } from "../lib/nn/prng.ts";
import { fillPolygon } from "../lib/image/rasterize.ts";

const CLASSES = [
  { id: 1, name: "square", rgb: [40, 70, 210] },
  { id: 2, name: "disc", rgb: [215, 45, 40] },
  { id: 3, name: "triangle", rgb: [230, 200, 40] },
] as const;

/**
 * The images, each drawn from seed 2000 + its index; `objects` fixes the number of shapes (else
 * 1-4, drawn). The later val images give the validation split its 20-odd objects, so that a score
 * on it is more than one or two matches.
 */
const IMAGES: { split: "train" | "val"; width: number; height: number; objects?: number }[] = [
  { split: "train", width: 96, height: 64 },
  { split: "train", width: 128, height: 128 },
  { split: "train", width: 160, height: 120 },
  { split: "train", width: 200, height: 150 },
  { split: "train", width: 64, height: 96 },
  { split: "train", width: 112, height: 112 },
  { split: "train", width: 288, height: 176 },
  { split: "train", width: 128, height: 96 },
  { split: "val", width: 96, height: 80 },
  { split: "val", width: 128, height: 128 },
  { split: "val", width: 200, height: 140 },
  { split: "val", width: 144, height: 96 },
  { split: "val", width: 112, height: 112, objects: 4 },
  { split: "val", width: 128, height: 96, objects: 3 },
  { split: "val", width: 96, height: 128, objects: 3 },
  { split: "val", width: 160, height: 128, objects: 4 },
  // More training scenes, each one 128-px tile: enough variety that the detection head learns
  // shapes and colours rather than these few images (the demo's validation score shows it).
  ...Array.from({ length: 24 }, (_, i) => ({
    split: "train" as const,
    width: [96, 112, 128][i % 3]!,
    height: [128, 96, 112, 128][i % 4]!,
    objects: 2 + (i % 3),
  })),
];

/** An outline of class `k` fitting in a `size`-px square at (x, y), as a flat polygon. */
function outline(k: number, x: number, y: number, size: number, random: () => number): number[] {
  if (k === 0) return [x, y, x + size, y, x + size, y + size, x, y + size];
  if (k === 1) {
    const r = size / 2;
    return Array.from({ length: 24 }, (_, i) => {
      const angle = (2 * Math.PI * i) / 24;
      return [x + r + r * Math.cos(angle), y + r + r * Math.sin(angle)];
    }).flat().map(round2);
  }
  const apex = x + size * (0.3 + 0.4 * random());
  return [round2(apex), y, x + size, y + size, x, y + size];
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function background(width: number, height: number, random: () => number): Uint8Array {
  const image = new Uint8Array(width * height * 3);
  const across = Math.ceil(width / 4);
  const noise = Array.from(
    { length: across * Math.ceil(height / 4) },
    () => Math.floor(random() * 24) - 12,
  );
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = noise[Math.floor(y / 4) * across + Math.floor(x / 4)]!;
      const stripe = (x + y) % 16 < 8 ? 6 : 0;
      const i = (y * width + x) * 3;
      image[i] = 110 + n + stripe;
      image[i + 1] = 130 + n + stripe;
      image[i + 2] = 100 + n;
    }
  }
  return image;
}

function paint(image: Uint8Array, mask: Uint8Array, rgb: readonly number[], shade: number) {
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    image[p * 3] = Math.max(0, Math.min(255, rgb[0]! + shade));
    image[p * 3 + 1] = Math.max(0, Math.min(255, rgb[1]! + shade));
    image[p * 3 + 2] = Math.max(0, Math.min(255, rgb[2]! - shade));
  }
}

/** Draws one scene: `wanted` (else 1-4) non-overlapping shapes of 14-40 px. */
function drawScene(width: number, height: number, seed: number, wanted?: number) {
  const random = mulberry32(seed);
  const image = background(width, height, random);
  const objects: { classIndex: number; polygon: number[] }[] = [];
  const taken: [number, number, number][] = [];
  const drawn = 1 + Math.floor(random() * 4);
  const count = wanted ?? drawn;
  for (let attempt = 0; objects.length < count && attempt < (wanted ? 200 : 50); attempt++) {
    const size = 14 + Math.floor(random() * 27);
    if (size + 2 > Math.min(width, height)) continue;
    const x = 1 + Math.floor(random() * (width - size - 2));
    const y = 1 + Math.floor(random() * (height - size - 2));
    if (
      taken.some(([tx, ty, ts]) =>
        x < tx + ts + 3 && tx < x + size + 3 && y < ty + ts + 3 && ty < y + size + 3
      )
    ) {
      continue;
    }
    taken.push([x, y, size]);
    const classIndex = Math.floor(random() * CLASSES.length);
    const polygon = outline(classIndex, x, y, size, random);
    const mask = fillPolygon(new Uint8Array(width * height), polygon, { width, height });
    paint(image, mask, CLASSES[classIndex]!.rgb, Math.floor(random() * 30) - 15);
    objects.push({ classIndex, polygon });
  }
  return { image, objects };
}

function tightBox(polygon: readonly number[]): [number, number, number, number] {
  const xs = polygon.filter((_, i) => i % 2 === 0);
  const ys = polygon.filter((_, i) => i % 2 === 1);
  const x0 = Math.min(...xs);
  const y0 = Math.min(...ys);
  return [x0, y0, round2(Math.max(...xs) - x0), round2(Math.max(...ys) - y0)];
}

/** Writes the COCO-layout set under `outDir`; returns the files written. */
export async function makeCocoFixtures(outDir: string): Promise<string[]> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  const written: string[] = [];
  await Deno.mkdir(`${outDir}/annotations`, { recursive: true });
  for (const split of ["train", "val"] as const) {
    await Deno.mkdir(`${outDir}/images/${split}`, { recursive: true });
    const images = [];
    const annotations = [];
    for (const [index, spec] of IMAGES.entries()) {
      if (spec.split !== split) continue;
      const { width, height } = spec;
      const scene = drawScene(width, height, 2000 + index, spec.objects);
      const fileName = `${split}_${String(index).padStart(3, "0")}_${width}x${height}.png`;
      const png = await sharp(scene.image, { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 9 }).toBuffer();
      await Deno.writeFile(`${outDir}/images/${split}/${fileName}`, new Uint8Array(png));
      written.push(`images/${split}/${fileName}`);
      const imageId = index + 1;
      images.push({ id: imageId, file_name: fileName, width, height });
      for (const object of scene.objects) {
        annotations.push({
          id: annotations.length + 1,
          image_id: imageId,
          category_id: CLASSES[object.classIndex]!.id,
          bbox: tightBox(object.polygon),
          area: round2(polygonArea(object.polygon)),
          iscrowd: 0,
          segmentation: [object.polygon],
        });
      }
    }
    const categories = CLASSES.map(({ id, name }) => ({ id, name, supercategory: "shape" }));
    const path = `annotations/instances_${split}.json`;
    await Deno.writeTextFile(
      `${outDir}/${path}`,
      JSON.stringify({ images, annotations, categories }) + "\n",
    );
    written.push(path);
  }
  return written;
}

/** Writes the FAIR-1M-layout sample under `outDir`; returns the files written. */
export async function makeFair1mFixtures(outDir: string): Promise<string[]> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${outDir}/val/images`, { recursive: true });
  await Deno.mkdir(`${outDir}/val/labelXml`, { recursive: true });
  const samples = [
    {
      stem: "1",
      width: 64,
      height: 48,
      objects: [
        { name: "Small Car", points: [[10, 8], [30, 12], [28, 22], [8, 18]] },
        { name: "Passenger Ship", points: [[40, 30], [60, 30], [60, 44], [40, 44]] },
      ],
    },
    {
      stem: "2",
      width: 80,
      height: 80,
      objects: [{ name: "Tennis Court", points: [[20, 10], [70, 30], [55, 68], [5, 48]] }],
    },
  ];
  const written: string[] = [];
  for (const [index, sample] of samples.entries()) {
    const random = mulberry32(3000 + index);
    const image = background(sample.width, sample.height, random);
    for (const object of sample.objects) {
      const mask = fillPolygon(new Uint8Array(sample.width * sample.height), object.points.flat(), {
        width: sample.width,
        height: sample.height,
      });
      paint(image, mask, [200, 200, 200], 0);
    }
    const tif = await sharp(image, {
      raw: { width: sample.width, height: sample.height, channels: 3 },
    })
      .tiff({ compression: "lzw" }).toBuffer();
    await Deno.writeFile(`${outDir}/val/images/${sample.stem}.tif`, new Uint8Array(tif));
    const objects = sample.objects.map((object) => {
      const points = [...object.points, object.points[0]!]
        .map(([x, y]) => `          <point>${x!.toFixed(6)},${y!.toFixed(6)}</point>`).join("\n");
      return `    <object>
      <coordinate>pixel</coordinate>
      <type>rectangle</type>
      <description>None</description>
      <possibleresult>
        <name>${object.name}</name>
      </possibleresult>
      <points>
${points}
      </points>
    </object>`;
    }).join("\n");
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<annotation>
  <source>
    <filename>${sample.stem}.tif</filename>
    <origin>GF2/GF3</origin>
  </source>
  <research>
    <version>1.0</version>
  </research>
  <size>
    <width>${sample.width}</width>
    <height>${sample.height}</height>
    <depth>3</depth>
  </size>
  <objects>
${objects}
  </objects>
</annotation>
`;
    await Deno.writeTextFile(`${outDir}/val/labelXml/${sample.stem}.xml`, xml);
    written.push(`val/images/${sample.stem}.tif`, `val/labelXml/${sample.stem}.xml`);
  }
  return written;
}

if (import.meta.main) {
  const root = new URL("../fixtures/", import.meta.url).pathname;
  const cocoDir = Deno.args[0] ?? `${root}detection`;
  const fair1mDir = Deno.args[1] ?? `${root}detection_fair1m`;
  const coco = await makeCocoFixtures(cocoDir);
  const fair1m = await makeFair1mFixtures(fair1mDir);
  console.log(`wrote ${coco.length} files to ${cocoDir}, ${fair1m.length} to ${fair1mDir}`);
}
