import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { parseCocoInstances } from "../../lib/data/coco.ts";
import { cocoResultsToEval } from "../../lib/data/coco_results.ts";
import { boxIou, cocoEvaluate } from "../../lib/metrics/coco_eval.ts";
import type { EvalImage } from "../../lib/data/detections.ts";
import type { CocoEvalResult } from "../../lib/metrics/coco_eval.ts";
import { assertClose, det, truth } from "./_detection.ts";

Deno.test("boxIou: continuous xywh, no +1; a crowd region divides by the detection's area", () => {
  assertClose(boxIou([0, 0, 2, 2], [1, 0, 2, 2], false), 2 / 6, "half overlap");
  assertClose(boxIou([0, 0, 2, 2], [2, 0, 2, 2], false), 0, "touching");
  assertClose(boxIou([5, 5, 10, 10], [0, 0, 100, 100], true), 1, "inside a crowd");
  assertClose(boxIou([0, 0, 20, 10], [0, 0, 20, 20], false), 0.5, "exactly one half");
});

Deno.test("cocoEvaluate: a higher-scored false positive halves AP; a later duplicate costs nothing", () => {
  const gt = truth([0, 0, 10, 10]);
  const duplicateLast = cocoEvaluate([{
    id: 1,
    objects: [gt],
    detections: [det([0, 0, 10, 10], 0.9), det([0, 0, 10, 10], 0.8)],
  }], 1);
  assertClose(duplicateLast.ap, 1, "duplicate after the match");
  const falseFirst = cocoEvaluate([{
    id: 1,
    objects: [gt],
    detections: [det([20, 20, 10, 10], 0.95), det([0, 0, 10, 10], 0.9)],
  }], 1);
  // rc = [0, 1], pr = [0, 1/2] made monotone: 1/2 at every recall point and threshold.
  assertClose(falseFirst.ap, 0.5, "false positive first");
  assertClose(falseFirst.ar100, 1, "recall");
});

Deno.test("cocoEvaluate: detections on a crowd region are ignored, however many", () => {
  const result = cocoEvaluate([{
    id: 7,
    objects: [truth([0, 0, 10, 10]), truth([50, 50, 40, 40], { iscrowd: true })],
    detections: [
      det([55, 55, 10, 10], 0.9),
      det([60, 60, 10, 10], 0.8),
      det([70, 70, 10, 10], 0.7),
      det([0, 0, 10, 10], 0.6),
    ],
  }], 1);
  // Without the crowd rule the true positive would come fourth (AP 0.25).
  assertClose(result.ap, 1, "AP");
  const crowdOnly = cocoEvaluate([{
    id: 1,
    objects: [truth([0, 0, 10, 10], { iscrowd: true })],
    detections: [det([0, 0, 10, 10], 0.5)],
  }], 1);
  assertEquals(crowdOnly.ap, null);
  assertEquals(crowdOnly.perClassAp[0], null);
});

Deno.test("cocoEvaluate: maxDets 1 / 10 / 100 cut each image's detections by score", () => {
  const image: EvalImage = {
    id: 1,
    objects: [truth([0, 0, 10, 10])],
    detections: [det([0, 0, 10, 10], 0.5), det([40, 40, 10, 10], 0.6)],
  };
  const result = cocoEvaluate([image], 1);
  assertClose(result.ar1, 0, "AR@1 sees only the false positive");
  assertClose(result.ar10, 1, "AR@10");
  assertClose(result.ar100, 1, "AR@100");
  const flooded = cocoEvaluate([{
    ...image,
    detections: [
      ...Array.from({ length: 100 }, (_, i) => det([20 + i, 40, 5, 5], 0.9)),
      det([0, 0, 10, 10], 0.5),
    ],
  }], 1);
  assertClose(flooded.ap, 0, "the match is the 101st detection");
  assertClose(flooded.ar100, 0, "AR@100");
});

Deno.test("cocoEvaluate: classes without ground truth are left out of the mean", () => {
  const result = cocoEvaluate([{
    id: 1,
    objects: [truth([0, 0, 10, 10]), truth([30, 30, 10, 10], { classIndex: 2 })],
    detections: [det([0, 0, 10, 10], 0.9), det([50, 50, 10, 10], 0.9, 1)],
  }], 3);
  assertEquals(result.perClassAp[1], null);
  assertClose(result.perClassAp[0], 1, "class 0");
  assertClose(result.perClassAp[2], 0, "class 2: present, never found");
  assertClose(result.ap, 0.5, "mean of classes 0 and 2");
});

Deno.test("cocoEvaluate: area ranges use the annotation's area, bounds inclusive", () => {
  const small = truth([0, 0, 10, 10]);
  const large = truth([100, 100, 100, 100]);
  // A 40x40 box whose segmentation area is 30²: small, not medium.
  const shrunk = truth([300, 0, 40, 40], { area: 900 });
  const result = cocoEvaluate([{
    id: 1,
    objects: [small, large, shrunk],
    detections: [det([0, 0, 10, 10], 0.9), det([100, 100, 100, 100], 0.8)],
  }], 1);
  // Small: {small, shrunk} positive, the large box's detection matches an ignored ground truth.
  // Recall points 0, .01, ..., .50 reached at precision 1, the 50 others not: 51/101.
  assertClose(result.apSmall, 51 / 101, "small: recall 1/2 at precision 1");
  assertClose(result.apLarge, 1, "large");
  assertEquals(result.apMedium, null);
  assertClose(result.arSmall, 0.5, "AR small");
  const edge = cocoEvaluate([{
    id: 1,
    objects: [truth([0, 0, 32, 32])],
    detections: [det([0, 0, 32, 32], 0.9)],
  }], 1);
  assertClose(edge.apSmall, 1, "32² is small");
  assertClose(edge.apMedium, 1, "and medium");
});

Deno.test("cocoEvaluate: score ties keep input order (pycocotools' stable sort)", () => {
  const objects = [truth([0, 0, 10, 10])];
  const exact = det([0, 0, 10, 10], 0.5);
  const shifted = det([1, 0, 10, 10], 0.5); // IoU 90/110 = 0.818
  assertClose(
    cocoEvaluate([{ id: 1, objects, detections: [exact, shifted] }], 1).ap,
    1,
    "exact first",
  );
  // Shifted first: it matches at IoU .50-.80 (7 thresholds); at .85-.95 it is a false positive
  // ahead of the exact one (AP 1/2 there).
  assertClose(
    cocoEvaluate([{ id: 1, objects, detections: [shifted, exact] }], 1).ap,
    (7 + 3 * 0.5) / 10,
    "shifted first",
  );
});

/** What `scripts/make_coco_goldens.py` writes per case. */
interface GoldenScores {
  stats: (number | null)[];
  perClassAp: (number | null)[];
  perClassAp50: (number | null)[];
  uniqueIds?: GoldenScores;
}

Deno.test("cocoEvaluate: pycocotools COCOeval goldens (scripts/make_coco_goldens.py)", async () => {
  const dir = new URL("../../fixtures/detection_goldens/", import.meta.url);
  // ids_zero numbers annotations from 0, ids_repeat repeats ids (and 0) within and across images
  // and classes: scored by pycocotools' rules on ids, and (uniqueIds) as if the ids were unique.
  const names = ["random_a", "random_b", "random_c", "ids_zero", "ids_repeat"];
  const keys = [
    "ap",
    "ap50",
    "ap75",
    "apSmall",
    "apMedium",
    "apLarge",
    "ar1",
    "ar10",
    "ar100",
    "arSmall",
    "arMedium",
    "arLarge",
  ] as const;
  for (const name of names) {
    const read = async (suffix: string) =>
      JSON.parse(await Deno.readTextFile(new URL(`${name}.${suffix}.json`, dir)));
    const split = parseCocoInstances(await read("gt"), `${name}.gt.json`, name);
    const images = cocoResultsToEval(await read("dets"), split, `${name}.dets.json`);
    const expected = await read("expected");
    const check = (result: CocoEvalResult, expected: GoldenScores, what: string) => {
      keys.forEach((key, i) => {
        const want = expected.stats[i];
        if (want === null) assertEquals(result[key], null, `${what} ${key}`);
        else assertClose(result[key], want!, `${what} ${key}`);
      });
      expected.perClassAp.forEach((want: number | null, k: number) => {
        if (want === null) assertEquals(result.perClassAp[k], null);
        else assertClose(result.perClassAp[k], want, `${what} class ${k} AP`);
        const want50 = expected.perClassAp50[k];
        if (want50 === null) assertEquals(result.perClassAp50[k], null);
        else assertClose(result.perClassAp50[k], want50!, `${what} class ${k} AP50`);
      });
    };
    check(cocoEvaluate(images, split.classNames.length), expected, name);
    if (expected.uniqueIds) {
      const unique = cocoEvaluate(images, split.classNames.length, { ids: "unique" });
      check(unique, expected.uniqueIds, `${name} (unique ids)`);
      // The rules cost something on these cases, so the two scorings must differ.
      assert(unique.ap! > cocoEvaluate(images, split.classNames.length).ap!, name);
    }
  }
});

Deno.test("cocoEvaluate: pycocotools' id rules by hand: id 0 finds nothing, a repeated id is its last annotation", () => {
  // Two images, one object each, each found exactly.
  const exact = (id: number, x: number) => ({
    id,
    objects: [truth([x, 0, 10, 10], { id: x === 0 ? 0 : 8 })],
    detections: [det([x, 0, 10, 10], 0.9)],
  });
  // Ids 0 and 8: the match on id 0 is a false positive, its object unfound. Both detections
  // score 0.9; pooled in image order the false positive comes first: precision 0, then 1/2 at
  // recall 1/2; made monotone, recall points 0..0.5 (51 of 101) read 1/2, the rest 0.
  const zero = cocoEvaluate([exact(1, 0), exact(2, 20)], 1);
  assertClose(zero.ap50, (51 * 0.5) / 101, "id 0");
  assertClose(zero.ar100, 0.5, "id 0 recall");
  assertClose(cocoEvaluate([exact(1, 0), exact(2, 20)], 1, { ids: "unique" }).ap50, 1, "unique");
  // Id 5 on image 1 and again on image 2: both occurrences stand for the last (image 2's), so
  // image 1 has no ground truth (its detection a false positive) and image 2 has that object twice
  // (one detection finds one copy): 1 of 2 positives found.
  const split = parseCocoInstances(
    {
      images: [{ id: 1, file_name: "a.png", width: 50, height: 50 }, {
        id: 2,
        file_name: "b.png",
        width: 50,
        height: 50,
      }],
      annotations: [
        { id: 5, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 0 },
        { id: 5, image_id: 2, category_id: 1, bbox: [20, 0, 10, 10], iscrowd: 0 },
      ],
      categories: [{ id: 1, name: "thing" }],
    },
    "gt.json",
    "gt",
  );
  assertEquals(split.images[0]!.objects[0]!.idKept, false);
  assertEquals(split.images[1]!.objects[0]!.idKept, true);
  const images = [0, 1].map((i) => ({
    id: split.images[i]!.id,
    objects: split.images[i]!.objects,
    detections: [det(split.images[i]!.objects[0]!.bbox, 0.9)],
  }));
  const repeated = cocoEvaluate(images, 1);
  assertClose(repeated.ar100, 0.5, "repeated id recall");
  assertClose(repeated.ap50, (51 * 0.5) / 101, "repeated id");
  assertClose(cocoEvaluate(images, 1, { ids: "unique" }).ap50, 1, "repeated id, unique");
});
