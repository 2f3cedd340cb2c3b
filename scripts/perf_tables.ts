/**
 * The performance page's tables, made from the `mopeft bench` JSON reports committed under
 * `docs/bench/`: one row per report (each row's two sides, ours and PyTorch's, come from that one
 * run), batch 1 and batch 4 apart, with each method's step, its ratios to PyTorch, the wasm heap
 * and the RSS, and the commit measured.
 *
 *   deno run -A scripts/perf_tables.ts [--dir docs/bench] [--write docs/performance.md]
 *
 * Without --write the tables go to stdout; with it they replace what stands between the page's
 * `<!-- BEGIN BENCH TABLES ... -->` comment and its `<!-- END BENCH TABLES -->` line (written to a
 * temporary file, then renamed).
 *
 * @module
 */

/** The parts of a `mopeft bench` report the tables read. */
export interface BenchReport {
  date: string;
  /** The checkout's commit (`git rev-parse --short HEAD`), with `-dirty` when it had changes. */
  commit?: string | null;
  /** Why the commit is given by hand, for reports made before `bench` recorded it. */
  commitNote?: string;
  machine: { cpu: string; cores: number; backend: string };
  model: { size: string | null; imageSize: number };
  batch: number;
  runs: number;
  warmup: number;
  forward: { medianMs: number };
  methods: {
    method: string;
    trainStep: {
      medianMs: number;
      samplesMs: number[];
      microBatch: number;
      backendMiB: number | null;
      peakRssMiB: number;
    } | null;
    error?: string;
  }[];
  torch: {
    forward: { medianMs: number };
    forwardBackwardFrozen: { medianMs: number } | null;
    loraStep: { medianMs: number } | null;
    peakRssMiB: number;
  } | null;
  torchSkipped: string | null;
}

const BEGIN = "<!-- BEGIN BENCH TABLES";
const END = "<!-- END BENCH TABLES -->";

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms >= 10_000 ? 1 : 2)} s`;
const gib = (mib: number) => `${(mib / 1024).toFixed(2)} GiB`;
const ratio = (a: number, b: number) => (a / b).toFixed(2);

function commitOf(report: BenchReport): string {
  if (!report.commit) return "not recorded";
  return report.commitNote ? `${report.commit} (${report.commitNote})` : report.commit;
}

function conditions(report: BenchReport): string {
  return `${report.model.size ?? "checkpoint"}, ${report.model.imageSize} px, ` +
    `${report.runs} run${report.runs === 1 ? "" : "s"} after ${report.warmup} warm-up, ` +
    `${report.machine.backend}, ${report.machine.cores} cores, ${report.date.slice(0, 16)}Z`;
}

function steps(report: BenchReport): string {
  return report.methods.map((m) => {
    if (!m.trainStep) return `${m.method} failed (${m.error ?? "no step"})`;
    const samples = m.trainStep.samplesMs.length > 1
      ? ` (${m.trainStep.samplesMs.map(seconds).join(", ")})`
      : "";
    const parts = m.trainStep.microBatch < report.batch
      ? `, passes of ${m.trainStep.microBatch}`
      : "";
    return `${m.method} ${seconds(m.trainStep.medianMs)}${samples}${parts}`;
  }).join("; ");
}

function memory(report: BenchReport): string {
  return report.methods.flatMap((m) =>
    m.trainStep
      ? [
        `${m.method} heap ${
          m.trainStep.backendMiB === null ? "n/a" : gib(m.trainStep.backendMiB)
        }, RSS ${gib(m.trainStep.peakRssMiB)}`,
      ]
      : []
  ).join("; ");
}

function torchSide(report: BenchReport): string {
  if (!report.torch) return `not run: ${report.torchSkipped ?? "no reason recorded"}`;
  const t = report.torch;
  return [
    `forward ${seconds(t.forward.medianMs)}`,
    ...(t.forwardBackwardFrozen ? [`fwd+bwd ${seconds(t.forwardBackwardFrozen.medianMs)}`] : []),
    ...(t.loraStep ? [`LoRA step ${seconds(t.loraStep.medianMs)}`] : []),
    `RSS ${gib(t.peakRssMiB)}`,
  ].join("; ");
}

function ratios(report: BenchReport): string {
  const t = report.torch;
  if (!t) return "";
  const parts = [`forward ${ratio(report.forward.medianMs, t.forward.medianMs)}`];
  for (const m of report.methods) {
    if (!m.trainStep) continue;
    const over = [
      ...(t.forwardBackwardFrozen
        ? [`${ratio(m.trainStep.medianMs, t.forwardBackwardFrozen.medianMs)} of fwd+bwd`]
        : []),
      ...(t.loraStep ? [`${ratio(m.trainStep.medianMs, t.loraStep.medianMs)} of LoRA step`] : []),
    ];
    if (over.length > 0) parts.push(`${m.method} ${over.join(", ")}`);
  }
  return parts.join("; ");
}

/** The batch-1 report of the same commit, size and image size closest in time to `report`. */
function batchOneBeside(report: BenchReport, all: BenchReport[]): BenchReport | undefined {
  const time = Date.parse(report.date);
  return all
    .filter((r) =>
      r.batch === 1 && r.commit === report.commit && r.model.size === report.model.size &&
      r.model.imageSize === report.model.imageSize
    )
    .sort((a, b) => Math.abs(Date.parse(a.date) - time) - Math.abs(Date.parse(b.date) - time))[0];
}

function overBatchOne(report: BenchReport, all: BenchReport[]): string {
  const single = batchOneBeside(report, all);
  if (!single) return "no batch-1 run of that commit and size";
  const parts = report.methods.flatMap((m) => {
    const one = single.methods.find((s) => s.method === m.method)?.trainStep;
    return m.trainStep && one ? [`${m.method} ${ratio(m.trainStep.medianMs, one.medianMs)}x`] : [];
  });
  return `${parts.join(", ")} (batch-1 run of ${single.date.slice(0, 16)}Z)`;
}

const row = (cells: string[]) => `| ${cells.join(" | ")} |`;

/**
 * The page's tables (Markdown) from `reports`, newest first within each batch size.
 *
 * @example
 * ```ts ignore
 * console.log(perfTables(await readReports("docs/bench")));
 * ```
 */
export function perfTables(reports: { file: string; report: BenchReport }[]): string {
  const all = reports.map((r) => r.report);
  const sorted = [...reports].sort((a, b) => b.report.date.localeCompare(a.report.date));
  const out: string[] = [];
  for (
    const [title, pick] of [
      ["Batch 1", (r: BenchReport) => r.batch === 1],
      ["Batch 4 and other batches", (r: BenchReport) => r.batch !== 1],
    ] as const
  ) {
    const chosen = sorted.filter((r) => pick(r.report));
    if (chosen.length === 0) continue;
    out.push(`**${title}**`, "");
    const batched = title !== "Batch 1";
    out.push(row([
      "run (report, commit)",
      "conditions",
      ...(batched ? ["batch"] : []),
      "training step, median (runs)",
      ...(batched ? ["over the batch-1 step"] : []),
      "heap and RSS",
      "PyTorch (same run)",
      "ours / PyTorch",
    ]));
    out.push(row(Array(batched ? 8 : 6).fill("---")));
    for (const { file, report } of chosen) {
      out.push(row([
        `\`${file}\` (${commitOf(report)})`,
        conditions(report),
        ...(batched ? [String(report.batch)] : []),
        steps(report),
        ...(batched ? [overBatchOne(report, all)] : []),
        memory(report),
        torchSide(report),
        ratios(report),
      ]));
    }
    out.push("");
  }
  return out.join("\n").trimEnd() + "\n";
}

/** Every `*.json` report in `dir`, by file name. */
export async function readReports(dir: string): Promise<{ file: string; report: BenchReport }[]> {
  const reports: { file: string; report: BenchReport }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const path = `${dir}/${entry.name}`;
    let report: BenchReport;
    try {
      report = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      throw new Error(`${path}: not a bench report (${(error as Error).message})`);
    }
    if (!Array.isArray(report.methods) || typeof report.batch !== "number") {
      throw new Error(`${path}: not a bench report (no methods or batch)`);
    }
    reports.push({ file: entry.name, report });
  }
  return reports.sort((a, b) => a.file.localeCompare(b.file));
}

/** `page` with the text between its markers replaced by `tables`. */
export function replaceTables(page: string, tables: string, pagePath: string): string {
  const begin = page.indexOf(BEGIN);
  const opened = begin < 0 ? -1 : page.indexOf("-->", begin);
  const end = page.indexOf(END);
  if (begin < 0 || opened < 0 || end < opened) {
    throw new Error(`${pagePath}: no "${BEGIN} ... -->" and "${END}" to replace between`);
  }
  const after = opened + "-->".length;
  return page.slice(0, after) + "\n\n" + tables + "\n" + page.slice(end);
}

if (import.meta.main) {
  const args = [...Deno.args];
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const dir = option("--dir") ?? "docs/bench";
  const write = option("--write");
  try {
    const tables = perfTables(await readReports(dir));
    if (!write) {
      console.log(tables);
    } else {
      const page = replaceTables(await Deno.readTextFile(write), tables, write);
      const temporary = `${write}.tmp`;
      await Deno.writeTextFile(temporary, page);
      await Deno.rename(temporary, write);
    }
  } catch (error) {
    console.error(`perf_tables: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
