import {
  deepStrictEqual as assertDeepEquals,
  ok as assert,
  strictEqual as assertEquals,
} from "node:assert/strict";
import { assertOneLineError, runCli } from "../_cli.ts";
import { writeFair1mSplit } from "../data/_fair1m.ts";

const goldens = new URL("../../fixtures/detection_goldens/", import.meta.url).pathname;

Deno.test("mopeft score-detections: pycocotools' numbers in percent; detections for another GT refused", async () => {
  const expected = JSON.parse(await Deno.readTextFile(`${goldens}random_c.expected.json`));
  const result = await runCli([
    "score-detections",
    "--gt",
    `${goldens}random_c.gt.json`,
    "--dets",
    `${goldens}random_c.dets.json`,
  ]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assert(Math.abs(report.ap - 100 * expected.stats[0]) < 1e-9);
  assert(Math.abs(report.apLarge - 100 * expected.stats[5]) < 1e-9);
  assertDeepEquals(report.perClass.map((c: { name: string }) => c.name), ["class1", "class2"]);
  const foreign = await runCli([
    "score-detections",
    "--gt",
    `${goldens}random_c.gt.json`,
    "--dets",
    `${goldens}random_b.dets.json`,
  ]);
  assertOneLineError(
    foreign,
    1,
    /^mopeft: Cannot read detections ".*random_b\.dets\.json": entry 1 names category_id 6, which is not in ".*random_c\.gt\.json" \(detections for another ground truth\?\)$/,
  );
});

Deno.test("mopeft merge-scores: detection shards merge into the whole split's scores", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gt = JSON.parse(await Deno.readTextFile(`${goldens}random_b.gt.json`));
    const dets = JSON.parse(await Deno.readTextFile(`${goldens}random_b.dets.json`));
    const shardFiles: string[] = [];
    for (const part of [0, 1]) {
      const images = gt.images.filter((_: unknown, i: number) => i % 2 === part);
      const ids = new Set(images.map((im: { id: number }) => im.id));
      const shardGt = {
        ...gt,
        images,
        annotations: gt.annotations.filter((a: { image_id: number }) => ids.has(a.image_id)),
      };
      await Deno.writeTextFile(`${dir}/gt${part}.json`, JSON.stringify(shardGt));
      await Deno.writeTextFile(
        `${dir}/dets${part}.json`,
        JSON.stringify(dets.filter((d: { image_id: number }) => ids.has(d.image_id))),
      );
      const shard = await runCli([
        "score-detections",
        "--gt",
        `${dir}/gt${part}.json`,
        "--dets",
        `${dir}/dets${part}.json`,
      ]);
      assertEquals(shard.code, 0, shard.stderr);
      await Deno.writeTextFile(`${dir}/shard${part}.json`, shard.stdout);
      shardFiles.push(`${dir}/shard${part}.json`);
    }
    const merged = await runCli(["merge-scores", ...shardFiles]);
    assertEquals(merged.code, 0, merged.stderr);
    const expected = JSON.parse(await Deno.readTextFile(`${goldens}random_b.expected.json`));
    const report = JSON.parse(merged.stdout);
    assert(Math.abs(report.ap - 100 * expected.stats[0]) < 1e-9, `${report.ap}`);
    assert(Math.abs(report.ar100 - 100 * expected.stats[8]) < 1e-9);
    assertEquals(report.images, gt.images.length);
    await Deno.writeTextFile(
      `${dir}/semantic.json`,
      JSON.stringify({ format: "mopeft-scores-v1" }),
    );
    const mixed = await runCli(["merge-scores", shardFiles[0]!, `${dir}/semantic.json`]);
    assertOneLineError(
      mixed,
      1,
      /^mopeft: Cannot merge scores ".*semantic\.json": it is a semantic report/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mopeft score-detections: a FAIR-1M folder as ground truth, per-category means", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixture = new URL("../../fixtures/detection_fair1m", import.meta.url).pathname;
    // FAIR-1M category ids are 1..37 in registry order: Small Car 21, Passenger Ship 12,
    // Tennis Court 32. The ship is found twice (a duplicate), the court missed.
    const dets = [
      { image_id: 1, category_id: 21, bbox: [8, 8, 22, 14], score: 0.9 },
      { image_id: 1, category_id: 12, bbox: [40, 30, 20, 14], score: 0.8 },
      { image_id: 1, category_id: 12, bbox: [40, 30, 20, 14], score: 0.7 },
    ];
    await Deno.writeTextFile(`${dir}/dets.json`, JSON.stringify(dets));
    const result = await runCli([
      "score-detections",
      "--gt",
      fixture,
      "--dets",
      `${dir}/dets.json`,
    ]);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    const byName = (list: Record<string, number | null | string>[], name: string) =>
      list.find((c) => c.name === name)!;
    // Scores as pycocotools computes them: 1 / (1 + eps) is a hair under 1.
    const close = (
      entry: Record<string, number | null | string>,
      expected: Record<string, number | null>,
    ) => {
      for (const [key, value] of Object.entries(expected)) {
        const actual = entry[key];
        if (value === null) assertEquals(actual, null, `${entry.name} ${key}`);
        else {assert(
            typeof actual === "number" && Math.abs(actual - value) < 1e-9,
            `${entry.name} ${key}: ${actual}`,
          );}
      }
    };
    close(byName(report.perClass, "Small Car"), { ap: 100, ap50: 100, voc07Ap50: 100 });
    // Found, then duplicated: the duplicate ranks after the match, so AP stays 100.
    close(byName(report.perClass, "Passenger Ship"), { ap: 100, voc07Ap50: 100 });
    close(byName(report.perClass, "Tennis Court"), { ap: 0, ap50: 0, voc07Ap50: 0 });
    close(byName(report.perClass, "Bus"), { ap: null, voc07Ap50: null });
    close(report, { voc07Map50: 200 / 3, ap: 200 / 3 });
    close(byName(report.categoryMeansAll, "Court"), { ap: 0, ap50: 0, voc07Map50: 0 });
    close(byName(report.categoryMeansAll, "Vehicle"), { ap: 100, voc07Map50: 100 });
    close(byName(report.categoryMeansAll, "Airplane"), { ap: null, ap50: null, voc07Map50: null });
    assertEquals(report.categoryMeansAll.length, 5);
    // No other-* class has ground truth here: both kinds of means agree.
    assertDeepEquals(report.categoryMeans, report.categoryMeansAll);
    assert(/^categoryMeans: .*other-\* classes left out/.test(report.categoryMeansNote));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mopeft score-detections: FAIR-1M-layout XML of its own classes; --classes fixes their order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_own_classes_" });
  try {
    await writeFair1mSplit(dir, "train", ["tank", "boat"]);
    await writeFair1mSplit(dir, "val", ["boat", "tank"]);
    // Classes from the training split, sorted: boat 1, tank 2. The boat (image 1) is found.
    await Deno.writeTextFile(
      `${dir}/dets.json`,
      JSON.stringify([{ image_id: 1, category_id: 1, bbox: [1, 1, 8, 8], score: 0.9 }]),
    );
    const result = await runCli(["score-detections", "--gt", dir, "--dets", `${dir}/dets.json`]);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assertDeepEquals(report.classNames, ["boat", "tank"]);
    // 11-point AP sums eleven 1s / 11: a hair over 100.
    assertDeepEquals(
      report.perClass.map((c: { voc07Ap50: number }) => Math.round(c.voc07Ap50 * 1e9) / 1e9),
      [100, 0],
    );
    assertDeepEquals(report.categoryMeans, []);
    assert(
      result.stderr.includes(
        `mopeft: classes: the 2 names in "${dir}/train/labelXml", sorted (not all FAIR-1M's: ` +
          "no categories): boat, tank",
      ),
      result.stderr,
    );
    // --classes tank,boat: category 1 is now the tank (image 2), which the detection misses.
    const given = await runCli([
      "score-detections",
      "--gt",
      dir,
      "--dets",
      `${dir}/dets.json`,
      "--classes",
      "tank,boat",
    ]);
    assertEquals(given.code, 0, given.stderr);
    assertDeepEquals(JSON.parse(given.stdout).classNames, ["tank", "boat"]);
    assertDeepEquals(
      JSON.parse(given.stdout).perClass.map((c: { voc07Ap50: number }) => c.voc07Ap50),
      [0, 0],
    );
    assertOneLineError(
      await runCli([
        "score-detections",
        "--gt",
        dir,
        "--dets",
        `${dir}/dets.json`,
        "--classes",
        "tank",
      ]),
      1,
      /^mopeft: Cannot read FAIR-1M label ".*\/val\/labelXml\/1\.xml": object 1 has class "boat", which the --classes list do not have$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mopeft score-detections: ids 0 and repeated ids scored as pycocotools does, with a warning; --strict-ids refuses them", async () => {
  for (const name of ["ids_zero", "ids_repeat"]) {
    const expected = JSON.parse(await Deno.readTextFile(`${goldens}${name}.expected.json`));
    const args = [
      "score-detections",
      "--gt",
      `${goldens}${name}.gt.json`,
      "--dets",
      `${goldens}${name}.dets.json`,
    ];
    const result = await runCli(args);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert(Math.abs(report.ap - 100 * expected.stats[0]) < 1e-9, name);
    assert(Math.abs(report.ap50 - 100 * expected.stats[1]) < 1e-9, name);
    const warnings = result.stderr.trim().split("\n");
    assertEquals(warnings.length, 1, result.stderr);
    const percent = (v: number) => (100 * v).toFixed(2);
    const pattern = new RegExp(
      `^mopeft: warning: ".*${name}\\.gt\\.json": .*scored as pycocotools does .*: ` +
        `AP ${percent(expected.stats[0])}, AP50 ${percent(expected.stats[1])}, against ` +
        `AP ${percent(expected.uniqueIds.stats[0])}, AP50 ${
          percent(expected.uniqueIds.stats[1])
        } with unique non-zero ids \\(--strict-ids refuses such files\\)$`,
    );
    assert(pattern.test(warnings[0]!), String(warnings[0]));
    if (name === "ids_zero") {
      assert(/: 1 annotation of id 0 \(image 3\); scored/.test(warnings[0]!), String(warnings[0]));
    } else {
      assert(
        /: 2 annotations of id 0 \(images 3, 27\); ids 0 \(2 annotations\), 1 \(2 annotations\), 6 \(3 annotations\), 17 \(2 annotations\) repeat; scored/
          .test(warnings[0]!),
        String(warnings[0]),
      );
    }
    assertOneLineError(
      await runCli([...args, "--strict-ids"]),
      1,
      new RegExp(
        `^mopeft: Cannot score ".*${name}\\.gt\\.json" with --strict-ids: .*id 0 \\(image`,
      ),
    );
  }
  // Unique, non-zero ids: no warning.
  const clean = await runCli([
    "score-detections",
    "--gt",
    `${goldens}random_a.gt.json`,
    "--dets",
    `${goldens}random_a.dets.json`,
    "--strict-ids",
  ]);
  assertDeepEquals([clean.code, clean.stderr], [0, ""]);
});
