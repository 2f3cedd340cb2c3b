/**
 * The performance page's tables: one row per bench report, batch 1 and batch 4 apart, both sides
 * and their ratios from that report, a batch-4 step over the batch-1 step of the same commit, and
 * the page's generated section replaced between its markers only.
 */
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { type BenchReport, perfTables, replaceTables } from "../../scripts/perf_tables.ts";

function report(batch: number, stepMs: number, torch: boolean): BenchReport {
  return {
    date: `2026-12-08T02:0${batch}:00.000Z`,
    commit: "abc1234",
    machine: { cpu: "AMD EPYC", cores: 2, backend: "wasm" },
    model: { size: "vit_b", imageSize: 256 },
    batch,
    runs: 2,
    warmup: 1,
    forward: { medianMs: 500 * batch },
    methods: [{
      method: "mopeft",
      trainStep: {
        medianMs: stepMs,
        samplesMs: [stepMs, stepMs + 100],
        microBatch: 1,
        backendMiB: 1024,
        peakRssMiB: 2048,
      },
    }],
    torch: torch
      ? {
        forward: { medianMs: 1000 },
        forwardBackwardFrozen: { medianMs: 2000 },
        loraStep: null,
        peakRssMiB: 1536,
      }
      : null,
    torchSkipped: torch ? null : "does not fit this machine's memory: needs about 30.0 GiB",
  };
}

Deno.test("perfTables() gives a row per report, its ratios, and a batch-4 step over the batch-1 step", () => {
  const tables = perfTables([
    { file: "b1.json", report: report(1, 1200, true) },
    { file: "b4.json", report: report(4, 5400, false) },
  ]);
  const lines = tables.split("\n");
  const one = lines.find((line) => line.startsWith("| `b1.json`"))!;
  ok(one.includes("mopeft 1.20 s (1.20 s, 1.30 s)"), one);
  ok(one.includes("fwd+bwd 2.00 s") && one.includes("mopeft 0.60 of fwd+bwd"), one);
  ok(one.includes("forward 0.50") && one.includes("heap 1.00 GiB, RSS 2.00 GiB"), one);
  const four = lines.find((line) => line.startsWith("| `b4.json`"))!;
  ok(four.includes("passes of 1") && four.includes("mopeft 4.50x"), four);
  ok(four.includes("not run: does not fit this machine's memory"), four);
  assertEquals(lines.filter((line) => line.startsWith("| `")).length, 2);
  ok(lines.indexOf("**Batch 1**") < lines.indexOf("**Batch 4 and other batches**"));
});

Deno.test("replaceTables() replaces only the generated section and refuses a page without it", () => {
  const page = "# P\n\n<!-- BEGIN BENCH TABLES: made by a script -->\n\nold\n\n" +
    "<!-- END BENCH TABLES -->\n\nkept\n";
  assertEquals(
    replaceTables(page, "new\n", "p.md"),
    "# P\n\n<!-- BEGIN BENCH TABLES: made by a script -->\n\nnew\n\n" +
      "<!-- END BENCH TABLES -->\n\nkept\n",
  );
  throws(() => replaceTables("# P\n", "new\n", "p.md"), /p\.md: no "<!-- BEGIN BENCH TABLES/);
});
