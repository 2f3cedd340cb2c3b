import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { matchingMethods } from "../../lib/study/report.ts";
import { parseStudy } from "../../lib/study/study_file.ts";
import { THESIS_EFFICIENCY, THESIS_RESULT_TABLES } from "../../lib/study/thesis_tables.ts";

const studies = new URL("../../studies/", import.meta.url).pathname;

async function shipped(name: string) {
  const path = `${studies}${name}.json`;
  return parseStudy(JSON.parse(await Deno.readTextFile(path)), path);
}

Deno.test("each thesis study covers its table: every row's dataset and every column's method", async () => {
  for (const id of ["4.3", "4.4", "4.6", "4.7", "4.8"]) {
    const study = await shipped(`thesis-table-${id}`);
    const table = THESIS_RESULT_TABLES[`thesis-${id}`]!;
    assertEquals(study.datasets.map((d) => d.dataset), table.rows.map((r) => r.dataset), id);
    for (const column of table.columns) {
      ok(matchingMethods(study, column.match).length > 0, `${id}: nothing matches ${column.label}`);
    }
    ok(study.description?.includes("20% hold-out"), id);
  }
  const efficiency = await shipped("thesis-table-4.5");
  for (const row of THESIS_EFFICIENCY.rows) {
    ok(matchingMethods(efficiency, row.match).length > 0, `4.5: nothing matches ${row.label}`);
  }
  // The main MoPEFT column is run with both readings of the thesis's settings.
  const main = await shipped("thesis-table-4.4");
  assertEquals(matchingMethods(main, { method: "mopeft" }), ["mopeft", "mopeft-r16-d256"]);
});

Deno.test("the fixtures study parses, its paths relative to studies/", async () => {
  const study = await shipped("fixtures");
  ok(study.checkpoint.endsWith("/.cache/demo/sam_tiny.safetensors"));
  ok(study.datasets.every((d) => d.data?.includes("/fixtures/mess/synthetic")));
});
