/**
 * `study report` as text: Markdown tables (the thesis's layout, best per row in bold) or CSV.
 *
 * @module
 */
import type {
  CompareTable,
  EfficiencyTable,
  ResultsTable,
  SeedSummary,
  StudyReport,
} from "./report.ts";

/**
 * The report as Markdown: the results table, the efficiency table and the comparison, each under
 * a heading, with a line saying how to read them.
 *
 * @example
 * ```ts ignore
 * console.log(reportMarkdown(await studyReport(study, "out/4.4")));
 * ```
 */
export function reportMarkdown(report: StudyReport): string {
  const parts: string[] = [];
  const { study, cells } = report;
  const done = cells.filter((c) => c.status === "done").length;
  parts.push(`## ${study.name}: mIoU (%)`);
  if (study.description) parts.push(study.description);
  parts.push(
    `${done} of ${cells.length} cells done. Mean ± standard deviation over seeds; the best of each ` +
      `row in bold; domain and overall means over the datasets that have a value.`,
  );
  parts.push(resultsMarkdown(report.tables.results));
  parts.push(`## ${study.name}: efficiency`);
  parts.push(efficiencyNote(report.tables.efficiency));
  parts.push(efficiencyMarkdown(report.tables.efficiency));
  if (report.tables.compare) {
    parts.push(`## Compared with the thesis: ${report.tables.compare.title}`);
    parts.push(compareMarkdown(report.tables.compare));
  }
  return parts.join("\n\n") + "\n";
}

/** The results table as Markdown. */
export function resultsMarkdown(table: ResultsTable): string {
  const header = ["Domain", "Dataset", ...table.methods];
  const lines = [row(header), row(header.map((_, i) => i < 2 ? "---" : "---:"))];
  for (const group of table.groups) {
    for (const [i, r] of group.rows.entries()) {
      lines.push(row([
        i === 0 ? group.domain : "",
        r.dataset,
        ...r.values.map((v, m) => bold(formatSummary(v), r.best.includes(m))),
      ]));
    }
    // With a single group its mean is the overall mean below.
    if (table.groups.length > 1) {
      lines.push(
        row(["", `*${group.domain} mean*`, ...group.mean.map((v) => `*${formatNumber(v)}*`)]),
      );
    }
  }
  lines.push(row([
    "",
    "**mean**",
    ...table.overall.map((v, m) => bold(formatNumber(v), table.overallBest.includes(m))),
  ]));
  return lines.join("\n");
}

/** The efficiency table as Markdown. */
export function efficiencyMarkdown(table: EfficiencyTable): string {
  const ref = table.reference ?? "reference";
  const header = [
    "Method",
    "runs",
    "trainable params",
    "trainable %",
    "PEFT params",
    "PEFT %",
    "s / step",
    `T_train (% of ${ref})`,
    "s / image",
    `T_inference (% of ${ref})`,
  ];
  const lines = [row(header), row(header.map((_, i) => i < 2 ? "---" : "---:"))];
  for (const r of table.rows) {
    lines.push(row([
      r.method,
      r.runs,
      formatCount(r.trainableParams),
      formatNumber(r.trainablePercent),
      formatCount(r.peftParams),
      formatNumber(r.peftPercent),
      formatSeconds(r.secondsPerStep),
      formatNumber(r.trainPercent, 0),
      formatSeconds(r.secondsPerImage),
      formatNumber(r.inferencePercent, 0),
    ]));
  }
  return lines.join("\n");
}

/** The comparison with a thesis table as Markdown. */
export function compareMarkdown(table: CompareTable): string {
  if (table.efficiency) {
    const of = table.relativeTo ? ` (% of ${table.relativeTo})` : "";
    const header = [
      "Thesis row",
      "ours",
      "Params (thesis)",
      "PEFT % (ours)",
      `T_train${of}, thesis`,
      `T_train${of}, ours`,
      `T_inference${of}, thesis`,
      `T_inference${of}, ours`,
    ];
    const lines = [row(header), row(header.map((_, i) => i < 2 ? "---" : "---:"))];
    for (const r of table.efficiency) {
      const ours = r.ours[0];
      lines.push(row([
        r.label,
        r.methods.join(", ") || "—",
        r.thesis.params === null ? "-" : `${r.thesis.params}%`,
        ours ? formatNumber(ours.peftPercent) : "—",
        `${formatNumber(r.thesis.train, 0)}%`,
        ours ? formatNumber(ours.trainPercent, 0) : "—",
        `${formatNumber(r.thesis.inference, 0)}%`,
        ours ? formatNumber(ours.inferencePercent, 0) : "—",
      ]));
    }
    const note = table.relativeTo === "decoder"
      ? "\n\nThe thesis's times are relative to full fine-tuning; here both sides are rescaled to " +
        "decoder fine-tuning (the thesis's decoder row: T_train 38%, T_inference 100%), which this " +
        "study has and full fine-tuning it has not."
      : table.relativeTo === null
      ? "\n\nThis study has neither full nor decoder fine-tuning: its times are not relative to anything."
      : "";
    return lines.join("\n") + note;
  }
  if (table.rows.length === 0) {
    return `No dataset of this study is in ${table.id.replace("thesis-", "Table ")}.`;
  }
  const header = ["Dataset"];
  for (const column of table.columns) {
    header.push(`${column.label} (thesis)`);
    for (const method of column.methods) header.push(`${column.label}: ${method}`);
  }
  const lines = [row(header), row(header.map((_, i) => i < 1 ? "---" : "---:"))];
  for (const r of table.rows) {
    const cells = [r.thesisLabel];
    for (const [c, column] of table.columns.entries()) {
      cells.push(r.thesis[c]!.toFixed(2));
      for (const [m] of column.methods.entries()) cells.push(formatNumber(r.ours[c]![m] ?? null));
    }
    lines.push(row(cells));
  }
  return lines.join("\n");
}

/**
 * The results table as CSV: one row per dataset (then per domain mean, then the overall mean),
 * a mean and a std column per method.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("table.csv", reportCsv(report));
 * ```
 */
export function reportCsv(report: StudyReport): string {
  const table = report.tables.results;
  const header = ["domain", "dataset", ...table.methods.flatMap((m) => [m, `${m} std`])];
  const lines = [header.map(csvField).join(",")];
  const number = (v: number | null | undefined) =>
    v === null || v === undefined ? "" : String(round(v, 4));
  for (const group of table.groups) {
    for (const r of group.rows) {
      lines.push(
        [group.domain, r.dataset, ...r.values.flatMap((v) => [number(v?.mean), number(v?.std)])]
          .map(csvField).join(","),
      );
    }
    lines.push(
      [group.domain, "mean", ...group.mean.flatMap((v) => [number(v), ""])].map(csvField).join(","),
    );
  }
  lines.push(
    ["", "mean", ...table.overall.flatMap((v) => [number(v), ""])].map(csvField).join(","),
  );
  return lines.join("\n") + "\n";
}

function efficiencyNote(table: EfficiencyTable): string {
  const reference = table.reference
    ? `relative to \`${table.reference}\`${
      table.rows.find((r) => r.method === table.reference)?.runs === "full"
        ? " (full fine-tuning)"
        : " (decoder fine-tuning: the study has no full fine-tuning)"
    }`
    : "not relative to anything: the study has neither full nor decoder fine-tuning";
  return `Parameters as \`mopeft summary\` counts them (in % of SAM plus the PEFT modules); ` +
    `seconds per training step from each run's metrics.jsonl and per evaluated image from ` +
    `eval.json, averaged over the method's cells; times ${reference}.`;
}

function formatSummary(value: SeedSummary | null): string {
  if (!value) return "—";
  return value.std === null
    ? value.mean.toFixed(2)
    : `${value.mean.toFixed(2)} ± ${value.std.toFixed(2)}`;
}

function formatNumber(value: number | null, digits = 2): string {
  return value === null ? "—" : value.toFixed(digits);
}

function formatSeconds(value: number | null): string {
  if (value === null) return "—";
  return value >= 10 ? value.toFixed(1) : value.toPrecision(3);
}

function formatCount(value: number | null): string {
  return value === null ? "—" : value.toLocaleString("en-US");
}

function bold(text: string, on: boolean): string {
  return on && text !== "—" ? `**${text}**` : text;
}

function row(cells: string[]): string {
  return `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
