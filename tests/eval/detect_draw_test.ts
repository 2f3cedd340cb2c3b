import {
  deepStrictEqual as assertDeepEquals,
  ok as assert,
  strictEqual as assertEquals,
} from "node:assert/strict";
import type { BoxXywh } from "../../lib/image/box.ts";
import {
  type DetectionLayout,
  detectionsSvg,
  layoutDetections,
  writeDetectionsPng,
} from "../../lib/eval/detect_draw.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import type { ScoredDetection } from "../../lib/data/detections.ts";

const options = {
  classNames: ["car", "ship", "plane"],
  palette: new Uint8Array([255, 0, 0, 0, 160, 0, 0, 0, 255]),
};

/** A crowded image: identical boxes, overlapping ones, boxes at every edge and corner. */
function crowd(): ScoredDetection[] {
  const detections: ScoredDetection[] = [];
  let score = 0.99;
  const add = (classIndex: number, bbox: BoxXywh) => {
    detections.push({ classIndex, bbox, score });
    score -= 0.011;
  };
  for (let i = 0; i < 12; i++) add(i % 3, [60, 60, 50, 30]); // identical
  for (let i = 0; i < 20; i++) add(i % 2, [70 + 3 * i, 50 + 2 * i, 40, 40]); // overlapping
  add(2, [0, 0, 20, 20]);
  add(2, [236, 0, 20, 20]);
  add(1, [0, 172, 20, 20]);
  add(0, [230, 170, 26, 22]);
  add(0, [0, 0, 256, 192]); // the whole image
  return detections;
}

function assertReadable(layout: DetectionLayout, width: number, height: number) {
  const labels = layout.drawn.flatMap((d) => d.label ? [d.label] : []);
  for (const [i, a] of labels.entries()) {
    assert(
      a.x >= 0 && a.y >= 0 && a.x + a.width <= width && a.y + a.height <= height,
      `label ${i} at ${JSON.stringify(a)} leaves the ${width}x${height} image`,
    );
    for (const [j, b] of labels.entries()) {
      if (j <= i) continue;
      const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y ||
        b.y + b.height <= a.y;
      assert(apart, `labels ${i} ${JSON.stringify(a)} and ${j} ${JSON.stringify(b)} overlap`);
    }
  }
}

Deno.test("layoutDetections: on a crowded image no two labels overlap and all stay inside", () => {
  const detections = crowd();
  const layout = layoutDetections(detections, 256, 192, options);
  assertEquals(layout.drawn.length, detections.length);
  assertEquals(layout.leftOut, 0);
  assertReadable(layout, 256, 192);
  // Strongest first; the first of the identical boxes gets the place above it, the next the
  // place inside its top edge.
  assertEquals(layout.drawn[0]!.text, "car 0.99");
  assertDeepEquals(layout.drawn[0]!.label, {
    x: 60,
    y: 60 - layout.labelHeight,
    width: 48,
    height: 11,
  });
  assertEquals(layout.drawn[1]!.label!.y, 60);
  // Labels far from their box are joined to it by a line.
  assert(layout.drawn.some((d) => d.leader));
  // The legend: each drawn class, its count.
  assertDeepEquals(layout.legend.map((e) => [e.name, e.count]), [
    ["car", 16],
    ["ship", 15],
    ["plane", 6],
  ]);
});

Deno.test("layoutDetections: --min-score filters; too many labels for the image are left out, said in the legend", () => {
  const detections = crowd();
  const strong = layoutDetections(detections, 256, 192, { ...options, minScore: 0.9 });
  assertEquals(strong.drawn.length, 9);
  const none = layoutDetections(detections, 256, 192, { ...options, minScore: 1 });
  assertEquals(none.drawn.length, 0);
  assertDeepEquals(none.notes.map((n) => n.text), ["no detections scoring 1.00 or more"]);
  // 37 labels of 11 px on a 64 x 48 image: no room for all; those placed still never overlap.
  const small = layoutDetections(detections, 64, 48, options);
  assert(small.leftOut > 0 && small.leftOut < detections.length);
  assertReadable(small, 64, 48);
  assertDeepEquals(small.notes.map((n) => n.text), [
    `${small.leftOut} labels left out: no free place in the image`,
  ]);
});

Deno.test("detectionsSvg: boxes and labels in their class's colour, text fitted to its label, the legend below", () => {
  const detections = crowd();
  const layout = layoutDetections(detections, 256, 192, options);
  const svg = detectionsSvg(detections, 256, 192, options, layout);
  assert(svg.includes(`height="${192 + layout.legendHeight}"`));
  for (const { detection, label } of layout.drawn) {
    const colour = ["rgb(255,0,0)", "rgb(0,160,0)", "rgb(0,0,255)"][detection.classIndex]!;
    const [x, y, w, h] = detection.bbox;
    assert(
      svg.includes(
        `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}"`,
      ),
    );
    assert(
      svg.includes(
        `<rect x="${label!.x}" y="${label!.y}" width="${label!.width}" height="${
          label!.height
        }" fill="${colour}"/>`,
      ),
    );
  }
  assertEquals(svg.match(/lengthAdjust="spacingAndGlyphs"/g)!.length, detections.length);
  for (const entry of ["car (16)", "ship (15)", "plane (6)"]) assert(svg.includes(entry), entry);
});

Deno.test("writeDetectionsPng: the image, then the legend strip below it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const image = {
      width: 256,
      height: 192,
      channels: 3,
      data: new Uint8Array(256 * 192 * 3).fill(128),
    };
    const detections = [{ classIndex: 1, bbox: [100, 80, 40, 30] as BoxXywh, score: 0.7 }];
    await writeDetectionsPng(`${dir}/a.png`, image, detections, options);
    const written = await decodeRgb(`${dir}/a.png`);
    const { legendHeight } = layoutDetections(detections, 256, 192, options);
    assertDeepEquals([written.width, written.height], [256, 192 + legendHeight]);
    const at = (x: number, y: number) => [
      ...written.data.subarray((y * 256 + x) * 3, (y * 256 + x) * 3 + 3),
    ];
    // Away from the box and its label, the image's grey; the box's edge in the class colour;
    // the legend strip dark, its swatch in the class colour.
    assertDeepEquals(at(10, 150), [128, 128, 128]);
    assertDeepEquals(at(120, 110), [0, 160, 0]);
    assertDeepEquals(at(250, 192 + legendHeight - 2), [24, 24, 24]);
    assertDeepEquals(at(8, 192 + 8), [0, 160, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
