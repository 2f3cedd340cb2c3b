import {
  deepStrictEqual as assertDeepEquals,
  ok as assert,
  strictEqual as assertEquals,
} from "node:assert/strict";
import { assertOneLineError, runCli } from "../_cli.ts";

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
