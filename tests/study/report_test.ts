import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  compareTable,
  efficiencyTable,
  matchingMethods,
  type ReportCell,
  resultsTable,
  seedSummary,
} from "../../lib/study/report.ts";
import { compareMarkdown, reportCsv, resultsMarkdown } from "../../lib/study/report_format.ts";
import { resultsSvg } from "../../lib/study/results_svg.ts";
import { parseStudy } from "../../lib/study/study_file.ts";
import { THESIS_RESULT_TABLES } from "../../lib/study/thesis_tables.ts";

const study = parseStudy(
  {
    name: "t",
    checkpoint: "/sam.safetensors",
    root: "/MESS",
    datasets: ["kvasir_instrument", "deepcrack", "cryonuseg", { name: "mine", data: "/d/mine" }],
    methods: [
      "decoder",
      { name: "r4", method: "mopeft", "lora-rank": 4 },
      "mopeft",
      { name: "r16", method: "mopeft", "lora-rank": 16 },
    ],
    seeds: [0, 1],
  },
  "/s.json",
);

function cell(dataset: string, method: string, seed: number, miou: number | null): ReportCell {
  return {
    dataset,
    method,
    seed,
    status: miou === null ? "pending" : "done",
    miou,
    macc: null,
    pacc: null,
    fwiou: null,
    trainSeconds: null,
    secondsPerStep: miou === null ? null : { decoder: 2, r4: 5, mopeft: 6, r16: 8 }[method]!,
    secondsPerImage: miou === null
      ? null
      : { decoder: 1, r4: 1.2, mopeft: 1.25, r16: 1.5 }[method]!,
    trainableParams: 1000,
    peftParams: method === "decoder" ? 0 : 100,
    totalParams: 100_000,
  };
}

const cells = [
  cell("kvasir_instrument", "decoder", 0, 40),
  cell("kvasir_instrument", "decoder", 1, 44),
  cell("kvasir_instrument", "r4", 0, 50),
  cell("kvasir_instrument", "r4", 1, 52),
  cell("kvasir_instrument", "mopeft", 0, 52),
  cell("kvasir_instrument", "mopeft", 1, 50),
  cell("kvasir_instrument", "r16", 0, 30),
  cell("kvasir_instrument", "r16", 1, null),
  cell("cryonuseg", "decoder", 0, 20),
  cell("cryonuseg", "r4", 0, 30),
  cell("deepcrack", "decoder", 0, 60),
  cell("deepcrack", "mopeft", 0, 70),
  cell("mine", "decoder", 0, 10),
];

Deno.test("results: rows grouped by MESS domain, mean ± std over seeds, best per row, means", () => {
  const table = resultsTable(study, cells);
  assertEquals(table.methods, ["decoder", "r4", "mopeft", "r16"]);
  assertEquals(table.groups.map((g) => [g.domain, g.rows.map((r) => r.dataset)]), [
    ["Medical Sciences", ["kvasir_instrument", "cryonuseg"]],
    ["Engineering", ["deepcrack"]],
    ["Other", ["mine"]],
  ]);
  const kvasir = table.groups[0]!.rows[0]!;
  assertEquals(kvasir.values[0], { mean: 42, std: Math.sqrt(8), n: 2 });
  assertEquals(kvasir.values[3], { mean: 30, std: null, n: 1 });
  // r4 and mopeft tie at 51: both are marked.
  assertEquals(kvasir.best, [1, 2]);
  // Domain mean over the datasets that have a value: decoder (42 + 20) / 2, mopeft 51 alone.
  assertEquals(table.groups[0]!.mean, [31, 40.5, 51, 30]);
  assertEquals(table.overall, [(42 + 20 + 60 + 10) / 4, 40.5, (51 + 70) / 2, 30]);
  assertEquals(table.overallBest, [2]);
  const markdown = resultsMarkdown(table);
  ok(
    markdown.includes(
      "| Medical Sciences | kvasir_instrument | 42.00 ± 2.83 | **51.00 ± 1.41** | **51.00 ± 1.41** | 30.00 |",
    ),
    markdown,
  );
  ok(
    markdown.includes("|  | *Medical Sciences mean* | *31.00* | *40.50* | *51.00* | *30.00* |"),
    markdown,
  );
  ok(resultsSvg(table).includes("<title>kvasir_instrument, r4: 51.00 ± 1.41</title>"));
});

Deno.test("efficiency: parameters in % and times relative to decoder when there is no full", () => {
  const table = efficiencyTable(study, cells);
  assertEquals(table.reference, "decoder");
  const r16 = table.rows.find((r) => r.method === "r16")!;
  assertEquals([r16.trainablePercent, r16.peftPercent], [1, 0.1]);
  assertEquals([r16.secondsPerStep, r16.trainPercent, r16.inferencePercent], [8, 400, 150]);
  assertEquals(table.rows[0]!.trainPercent, 100);
});

Deno.test("thesis columns match the study entries whose settings resolve to theirs", () => {
  const table = THESIS_RESULT_TABLES["thesis-4.6"]!;
  assertEquals(table.columns.map((c) => matchingMethods(study, c.match)), [
    ["r4"],
    ["mopeft"], // rank 8 is the default
    ["r16"],
    [],
  ]);
  assertEquals(matchingMethods(study, { method: "mopeft" }), ["r4", "mopeft", "r16"]);
  assertEquals(table.rows.find((r) => r.dataset === "kvasir_instrument")!.values, [
    60.72,
    67.43,
    71.92,
    46.82,
  ]);
  const markdown = compareMarkdown({
    id: "thesis-4.6",
    title: table.title,
    columns: table.columns.map((c) => ({
      label: c.label,
      methods: matchingMethods(study, c.match),
    })),
    rows: [{
      dataset: "kvasir_instrument",
      thesisLabel: "Kvasir-Instrument [11]",
      thesis: [60.72, 67.43, 71.92, 46.82],
      ours: [[51], [51], [30], []],
    }],
  });
  ok(
    markdown.startsWith(
      "| Dataset | rank = 4 (thesis) | rank = 4: r4 | rank = 8 (thesis) | rank = 8: mopeft |",
    ),
    markdown,
  );
  ok(
    markdown.includes(
      "| Kvasir-Instrument [11] | 60.72 | 51.00 | 67.43 | 51.00 | 71.92 | 30.00 | 46.82 |",
    ),
    markdown,
  );
});

Deno.test("CSV: one row per dataset with a mean and a std column per method", () => {
  const results = resultsTable(study, cells);
  const csv = reportCsv({
    study: { name: "t", checkpoint: "/sam.safetensors", out: "/o" },
    cells,
    tables: { results, efficiency: efficiencyTable(study, cells) },
  }).split("\n");
  assertEquals(
    csv[0],
    "domain,dataset,decoder,decoder std,r4,r4 std,mopeft,mopeft std,r16,r16 std",
  );
  assertEquals(csv[1], "Medical Sciences,kvasir_instrument,42,2.8284,51,1.4142,51,1.4142,30,");
  assertEquals(seedSummary([]), null);
});

Deno.test("Table 4.5 is rescaled to decoder fine-tuning when the study has no full", () => {
  const table = compareTable(
    study,
    resultsTable(study, cells),
    efficiencyTable(study, cells),
    "thesis-4.5",
  );
  assertEquals(table.relativeTo, "decoder");
  const mopeft = table.efficiency!.find((r) => r.label === "MoPEFT")!;
  assertEquals(mopeft.methods, ["r4", "mopeft", "r16"]);
  assertEquals(mopeft.thesis, { params: 1.47, train: (100 * 63) / 38, inference: 124 });
  assertEquals(mopeft.ours[2], { peftPercent: 0.1, trainPercent: 400, inferencePercent: 150 });
  assertEquals(table.efficiency!.find((r) => r.label === "Full fine-tuning")!.methods, []);
});
