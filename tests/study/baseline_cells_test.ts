/**
 * The baseline (SAM's head as initialised, untrained) is one cell per dataset, since it does not
 * depend on the seed, unless a seeded hold-out decides what it is scored on; planning, status and
 * the report read the same cells.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { cellDir, studyCells } from "../../lib/study/cells.ts";
import { collectReportCells } from "../../lib/study/report.ts";
import { studyStatus } from "../../lib/study/status.ts";
import { parseStudy } from "../../lib/study/study_file.ts";

const entry = {
  name: "s",
  checkpoint: "/c/sam.safetensors",
  datasets: [{ name: "a", data: "/d/a" }, { name: "b", data: "/d/b" }],
  methods: ["baseline", "lora"],
  seeds: [3, 1, 2],
};

Deno.test("without a hold-out the baseline is one cell per dataset, at the first seed", () => {
  const study = parseStudy(entry, "/s/study.json");
  assertEquals(studyCells(study).map((c) => c.id), [
    "a/baseline/seed-3",
    "a/lora/seed-3",
    "a/lora/seed-1",
    "a/lora/seed-2",
    "b/baseline/seed-3",
    "b/lora/seed-3",
    "b/lora/seed-1",
    "b/lora/seed-2",
  ]);
  assertEquals(studyCells(study).map((c) => c.index), [0, 1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("with a hold-out (drawn by each seed) the baseline keeps a cell per seed", () => {
  const study = parseStudy({ ...entry, train: { holdout: 0.2 } }, "/s/study.json");
  assertEquals(
    studyCells(study).filter((c) => c.method.name === "baseline").map((c) => c.id),
    ["a/baseline/seed-3", "a/baseline/seed-1", "a/baseline/seed-2", "b/baseline/seed-3"].concat(
      ["b/baseline/seed-1", "b/baseline/seed-2"],
    ),
  );
  // A method entry's own hold-out counts too.
  const own = parseStudy(
    { ...entry, methods: [{ name: "base", method: "baseline", holdout: 0.1 }] },
    "/s/study.json",
  );
  assertEquals(studyCells(own).length, 6);
});

Deno.test("status and report count and read the one baseline cell where it always was", async () => {
  const study = parseStudy(entry, "/s/study.json");
  const out = await Deno.makeTempDir();
  try {
    for (const [dataset, miou] of [["a", 12.5], ["b", 20]] as const) {
      const folder = cellDir(out, { id: `${dataset}/baseline/seed-3` });
      await Deno.mkdir(folder, { recursive: true });
      await Deno.writeTextFile(
        `${folder}/cell.json`,
        JSON.stringify({ format: "mopeft-study-cell", status: "done", stages: {} }),
      );
      await Deno.writeTextFile(`${folder}/eval.json`, JSON.stringify({ miou }));
    }
    const status = await studyStatus(study, out);
    assertEquals([status.total, status.done, status.pending], [8, 2, 6]);
    const baseline = (await collectReportCells(study, out)).filter((c) => c.method === "baseline");
    assertEquals(baseline.map((c) => [c.dataset, c.seed, c.status, c.miou]), [
      ["a", 3, "done", 12.5],
      ["b", 3, "done", 20],
    ]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
