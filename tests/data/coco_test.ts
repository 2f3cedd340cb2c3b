import {
  deepStrictEqual as assertDeepEquals,
  rejects as assertRejects,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import {
  findCocoSplit,
  parseCocoInstances,
  polygonArea,
  readCocoSplit,
} from "../../lib/data/coco.ts";
import { cocoResultsToEval, toCocoResults } from "../../lib/data/coco_results.ts";

const fixture = new URL("../../fixtures/detection", import.meta.url).pathname;

function instances(overrides: Record<string, unknown> = {}) {
  return {
    images: [{ id: 4, file_name: "a.png", width: 64, height: 48 }],
    annotations: [{ id: 1, image_id: 4, category_id: 7, bbox: [2, 4, 10, 8], iscrowd: 0 }],
    categories: [{ id: 7, name: "car" }, { id: 2, name: "bus" }],
    ...overrides,
  };
}

Deno.test("readCocoSplit: the fixture's val split, classes in category-id order", async () => {
  const files = await findCocoSplit(fixture, "val");
  assertEquals(files.annotations, `${fixture}/annotations/instances_val.json`);
  const split = await readCocoSplit(files);
  assertEquals(split.format, "coco");
  assertDeepEquals(split.classNames, ["square", "disc", "triangle"]);
  assertDeepEquals(split.categoryIds, [1, 2, 3]);
  assertDeepEquals(split.categories, [{ name: "shape", classIndices: [0, 1, 2] }]);
  assertDeepEquals(split.images.map((im) => [im.id, im.width, im.height]), [
    [9, 96, 80],
    [10, 128, 128],
    [11, 200, 140],
    [12, 144, 96],
    [13, 112, 112],
    [14, 128, 96],
    [15, 96, 128],
    [16, 160, 128],
  ]);
  assertEquals(split.images[0]!.file, `${fixture}/images/val/val_008_96x80.png`);
  const square = split.images[0]!.objects[0]!;
  assertDeepEquals(square, {
    id: 1,
    classIndex: 0,
    bbox: [35, 30, 16, 16],
    area: 256,
    iscrowd: false,
    difficult: false,
    polygons: [[35, 30, 51, 30, 51, 46, 35, 46]],
  });
  // Unnamed: the evaluation split (val), never train; train when training.
  assertEquals((await findCocoSplit(fixture)).split, "val");
  assertEquals((await findCocoSplit(fixture, undefined, "train")).split, "train");
  await assertRejects(findCocoSplit(fixture, "test"), /no split "test" \(found: train, val\)/);
});

Deno.test("parseCocoInstances: area from the file, else the polygons, else w * h; RLE is no polygon", () => {
  const split = parseCocoInstances(
    instances({
      annotations: [
        { id: 1, image_id: 4, category_id: 7, bbox: [0, 0, 4, 3], iscrowd: 0 },
        {
          id: 2,
          image_id: 4,
          category_id: 2,
          bbox: [0, 0, 4, 3],
          segmentation: [[0, 0, 4, 0, 4, 3]],
        },
        {
          id: 3,
          image_id: 4,
          category_id: 2,
          bbox: [0, 0, 4, 3],
          area: 5,
          iscrowd: 1,
          segmentation: { counts: [0, 12], size: [48, 64] },
        },
      ],
    }),
    "gt.json",
    "val",
  );
  assertDeepEquals(split.classNames, ["bus", "car"]);
  const [box, polygon, crowd] = split.images[0]!.objects;
  assertEquals(box!.area, 12);
  assertEquals(box!.classIndex, 1);
  assertEquals(polygon!.area, 6);
  assertDeepEquals(polygon!.polygons, [[0, 0, 4, 0, 4, 3]]);
  assertEquals(crowd!.area, 5);
  assertEquals(crowd!.iscrowd, true);
  assertEquals(crowd!.polygons, undefined);
  assertEquals(polygonArea([0, 0, 0, 2, 3, 2, 3, 0]), 6);
});

Deno.test("parseCocoInstances: bad input is one line naming the file", () => {
  const bad: [unknown, RegExp][] = [
    [[1, 2], /^Cannot read COCO annotations "gt\.json": not COCO instances JSON/],
    [{ images: [], annotations: [] }, /not COCO instances JSON \(no "categories" list\)/],
    [
      instances({ annotations: [{ id: 5, image_id: 99, category_id: 7, bbox: [0, 0, 1, 1] }] }),
      /"gt\.json": annotation 5 names image 99, which is not in the file$/,
    ],
    [
      instances({ annotations: [{ id: 5, image_id: 4, category_id: 3, bbox: [0, 0, 1, 1] }] }),
      /"gt\.json": annotation 5 names category 3, which is not in the file$/,
    ],
    [
      instances({ annotations: [{ id: 6, image_id: 4, category_id: 7, bbox: [0, 0, -2, 1] }] }),
      /"gt\.json": annotation 6 has a box of negative size \[0, 0, -2, 1\]$/,
    ],
    [
      instances({ categories: [{ id: 7, name: "car" }, { id: 8, name: "car" }] }),
      /category name "car" repeats/,
    ],
    [
      instances({ images: [{ id: 4, file_name: "a.png", width: 0, height: 48 }] }),
      /image 4 has no positive integer width and height/,
    ],
  ];
  for (const [value, pattern] of bad) {
    assertThrows(() => parseCocoInstances(value, "gt.json", "val"), (error: Error) => {
      assertEquals(error.message.includes("\n"), false);
      return pattern.test(error.message);
    });
  }
});

Deno.test("readCocoSplit: an image missing from the images folder, invalid JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/images`);
    await Deno.writeTextFile(`${dir}/gt.json`, JSON.stringify(instances()));
    await assertRejects(
      readCocoSplit({ annotations: `${dir}/gt.json`, imagesDir: `${dir}/images`, split: "x" }),
      new RegExp(
        `^Error: Cannot read COCO annotations "${dir}/gt\\.json": image 4 \\("a\\.png"\\) is not in "${dir}/images"$`,
      ),
    );
    const annotationsOnly = await readCocoSplit({
      annotations: `${dir}/gt.json`,
      imagesDir: null,
      split: "x",
    });
    assertEquals(annotationsOnly.images[0]!.file, "a.png");
    await Deno.writeTextFile(`${dir}/gt.json`, "{ images");
    await assertRejects(
      readCocoSplit({ annotations: `${dir}/gt.json`, imagesDir: null, split: "x" }),
      /Cannot read COCO annotations ".*gt\.json": not valid JSON$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cocoResultsToEval / toCocoResults: category ids <-> class indices; foreign results refused", () => {
  const split = parseCocoInstances(instances(), "gt.json", "val");
  const images = cocoResultsToEval(
    [{ image_id: 4, category_id: 7, bbox: [1, 2, 3, 4], score: 0.5 }],
    split,
    "dets.json",
  );
  assertDeepEquals(images[0]!.detections, [{ classIndex: 1, bbox: [1, 2, 3, 4], score: 0.5 }]);
  assertDeepEquals(toCocoResults(split, 4, images[0]!.detections), [
    { image_id: 4, category_id: 7, bbox: [1, 2, 3, 4], score: 0.5 },
  ]);
  assertThrows(
    () =>
      cocoResultsToEval(
        [{ image_id: 5, category_id: 7, bbox: [1, 2, 3, 4], score: 0.5 }],
        split,
        "dets.json",
      ),
    /^Error: Cannot read detections "dets\.json": entry 0 names image_id 5, which is not in "gt\.json" \(detections for another ground truth\?\)$/,
  );
  assertThrows(
    () =>
      cocoResultsToEval(
        [{ image_id: 4, category_id: 1, bbox: [1, 2, 3, 4], score: 0.5 }],
        split,
        "dets.json",
      ),
    /entry 0 names category_id 1, which is not in "gt\.json"/,
  );
  assertThrows(
    () => cocoResultsToEval({}, split, "dets.json"),
    /"dets\.json": not a COCO results file/,
  );
});
