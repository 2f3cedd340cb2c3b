import {
  deepStrictEqual as assertDeepEquals,
  ok as assert,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { parseCocoInstances } from "../../lib/data/coco.ts";
import { cocoResultsToEval } from "../../lib/data/coco_results.ts";
import { FAIR1M_CLASS_CATEGORIES, FAIR1M_CLASS_NAMES } from "../../lib/data/fair1m_classes.ts";
import {
  CATEGORY_MEANS_NOTE,
  isOtherClass,
  makeDetectionReport,
  mergeDetectionReports,
  parseDetectionReport,
} from "../../lib/metrics/detection_report.ts";

async function golden(name: string) {
  const dir = new URL("../../fixtures/detection_goldens/", import.meta.url);
  const read = async (suffix: string) =>
    JSON.parse(await Deno.readTextFile(new URL(`${name}.${suffix}.json`, dir)));
  const split = parseCocoInstances(await read("gt"), `${name}.gt.json`, name);
  return {
    split,
    images: cocoResultsToEval(await read("dets"), split, `${name}.dets.json`),
    expected: await read("expected"),
  };
}

Deno.test("makeDetectionReport: percent scores, per class and per category means", async () => {
  const { split, images, expected } = await golden("random_a");
  const categories = [{ name: "first two", classIndices: [0, 1] }, {
    name: "rest",
    classIndices: [2, 3],
  }];
  const report = makeDetectionReport(images, { classNames: split.classNames, categories });
  assert(Math.abs(report.ap! - 100 * expected.stats[0]) < 1e-10);
  assert(Math.abs(report.ar100! - 100 * expected.stats[8]) < 1e-10);
  assertEquals(report.perClass[3]!.ap, null);
  assertEquals(report.perClass[3]!.voc07Ap50, null);
  const [a, b] = [report.perClass[0]!.ap!, report.perClass[1]!.ap!];
  assert(Math.abs(report.categoryMeansAll[0]!.ap! - (a + b) / 2) < 1e-12);
  // Class 3 has no ground truth: the "rest" mean is class 2 alone.
  assertEquals(report.categoryMeansAll[1]!.ap, report.perClass[2]!.ap);
  const voc = report.perClass.map((c) => c.voc07Ap50).filter((v) => v !== null) as number[];
  assert(Math.abs(report.voc07Map50! - voc.reduce((s, v) => s + v, 0) / voc.length) < 1e-12);
  assertEquals(report.images, images.length);
});

Deno.test("mergeDetectionReports: shards merge into exactly the whole split's scores", async () => {
  const { split, images } = await golden("random_b");
  const classNames = split.classNames;
  const whole = makeDetectionReport(images, { classNames });
  const shards = [0, 1, 2].map((s) =>
    JSON.parse(
      JSON.stringify(makeDetectionReport(images.filter((_, i) => i % 3 === s), { classNames })),
    )
  );
  const merged = mergeDetectionReports(
    shards.map((report, i) => ({ report, source: `s${i}.json` })),
  );
  assertDeepEquals(merged, whole);
  // A shard's mean is not the whole's: merging must not average.
  assert(shards.some((shard) => shard.ap !== whole.ap));
  assertThrows(
    () =>
      mergeDetectionReports([{ report: shards[0], source: "a.json" }, {
        report: shards[0],
        source: "b.json",
      }]),
    /^Error: Cannot merge scores "b\.json": image \d+ is also in "a\.json"$/,
  );
  const renamed = { ...shards[1], classNames: ["x", ...classNames.slice(1)] };
  assertThrows(
    () =>
      mergeDetectionReports([{ report: shards[0], source: "a.json" }, {
        report: renamed,
        source: "b.json",
      }]),
    /Cannot merge scores "b\.json": its classes differ/,
  );
});

Deno.test("parseDetectionReport: one-line errors naming the file", () => {
  assertThrows(
    () => parseDetectionReport([], "x.json"),
    /Cannot read scores "x\.json": not a JSON object|format/,
  );
  assertThrows(
    () => parseDetectionReport({ format: "mopeft-scores-v1" }, "x.json"),
    /Cannot read scores "x\.json": format is not "mopeft-detection-scores-v1"/,
  );
  assertThrows(
    () =>
      parseDetectionReport({
        format: "mopeft-detection-scores-v1",
        classNames: ["a"],
        evaluation: [{ id: 1, objects: [[3, 0, 0, 1, 1, 1, 0]], detections: [] }],
      }, "x.json"),
    /Cannot read scores "x\.json": evaluation entry 0 is not an image/,
  );
});

Deno.test("makeDetectionReport: FAIR-1M category means without other-* (Table A.1) and with them", () => {
  const names = FAIR1M_CLASS_NAMES;
  const k = (name: string) => names.indexOf(name);
  // One image; each object at its own place. Found (an exact detection): Boeing737,
  // other-airplane, Motorboat; missed: Boeing747, other-ship.
  const found = ["Boeing737", "other-airplane", "Motorboat"];
  const objects = ["Boeing737", "Boeing747", "other-airplane", "Motorboat", "other-ship"].map((
    name,
    i,
  ) => ({
    classIndex: k(name),
    bbox: [20 * i, 0, 10, 10] as [number, number, number, number],
    area: 100,
    iscrowd: false,
    difficult: false,
  }));
  const detections = objects.filter((o) => found.includes(names[o.classIndex]!)).map((o) => ({
    classIndex: o.classIndex,
    bbox: o.bbox,
    score: 0.9,
  }));
  const report = makeDetectionReport([{ id: 1, objects, detections }], {
    classNames: names,
    categories: FAIR1M_CLASS_CATEGORIES,
  });
  const mean = (list: typeof report.categoryMeans, name: string) =>
    list.find((c) => c.name === name)!.voc07Map50;
  const close = (actual: number | null, expected: number) =>
    assert(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} vs ${expected}`);
  // Airplane: Boeing737 100, Boeing747 0 (the other 8 named types have no ground truth);
  // other-airplane 100 counts only in categoryMeansAll.
  close(mean(report.categoryMeans, "Airplane"), 50);
  close(mean(report.categoryMeansAll, "Airplane"), 200 / 3);
  // Ship: Motorboat 100; other-ship 0.
  close(mean(report.categoryMeans, "Ship"), 100);
  close(mean(report.categoryMeansAll, "Ship"), 50);
  assertEquals(mean(report.categoryMeans, "Vehicle"), null);
  assertEquals(mean(report.categoryMeansAll, "Court"), null);
  assertEquals(report.categoryMeansNote, CATEGORY_MEANS_NOTE);
  assert(/other-\* classes left out/.test(report.categoryMeansNote!));
  // Without categories, no means and no note.
  const plain = makeDetectionReport([{ id: 1, objects, detections }], { classNames: names });
  assertDeepEquals([plain.categoryMeans, plain.categoryMeansAll], [[], []]);
  assertEquals("categoryMeansNote" in plain, false);
  assertEquals(isOtherClass("Other Ship"), true);
  assertEquals(isOtherClass("Boeing737"), false);
});

Deno.test("mergeDetectionReports: ids 0 and repeated ids survive the JSON, so shards merge into pycocotools' whole", async () => {
  const { split, images, expected } = await golden("ids_repeat");
  const classNames = split.classNames;
  const warnings: string[] = [];
  const whole = makeDetectionReport(images, {
    classNames,
    groundTruth: "ids_repeat.gt.json",
    onWarning: (m) => warnings.push(m),
  });
  assert(Math.abs(whole.ap! - 100 * expected.stats[0]) < 1e-10);
  assertEquals(warnings.length, 1);
  assert(
    warnings[0]!.startsWith('"ids_repeat.gt.json": 2 annotations of id 0'),
    String(warnings[0]),
  );
  // Images 3, 6 and 27 share ids 0 and 6: each goes to another shard.
  const shards = [0, 1, 2].map((s) =>
    JSON.parse(
      JSON.stringify(makeDetectionReport(images.filter((_, i) => i % 3 === s), { classNames })),
    )
  );
  const merged = mergeDetectionReports(
    shards.map((report, i) => ({ report, source: `s${i}.json` })),
    (m) => warnings.push(m),
  );
  assertDeepEquals(merged, whole);
  assertEquals(warnings.length, 2);
});
