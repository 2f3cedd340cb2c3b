/**
 * `study report`'s content, as data: every cell's scores and timings, the results table in the
 * thesis's layout (rows = datasets grouped by domain, with domain means and an overall mean;
 * columns = methods; seeds as mean ± std; best per row), the efficiency table, and optionally the
 * thesis's own numbers beside the study's.
 *
 * @module
 */
import { readCellRecord } from "./cell_record.ts";
import { cellDir, studyCells } from "./cells.ts";
import { domainOf, MESS_DOMAINS, messIdOf } from "./domains.ts";
import { runSecondsPerStep, secondsPerImageOf } from "./run_timing.ts";
import { type CellState, cellState } from "./status.ts";
import { methodTrainOptions, peftConfigOf, type Study } from "./study_file.ts";
import {
  THESIS_EFFICIENCY,
  THESIS_RESULT_TABLES,
  THESIS_TABLE_IDS,
  type ThesisMatch,
} from "./thesis_tables.ts";

/** One cell of the report (scores in percent, as `eval.json` has them). */
export interface ReportCell {
  dataset: string;
  method: string;
  seed: number;
  status: CellState;
  miou: number | null;
  macc: number | null;
  pacc: number | null;
  fwiou: number | null;
  /** Wall-clock seconds of the cell's training command. */
  trainSeconds: number | null;
  secondsPerStep: number | null;
  secondsPerImage: number | null;
  trainableParams: number | null;
  peftParams: number | null;
  totalParams: number | null;
}

/** A value over seeds: mean, sample standard deviation (`null` for one seed), count. */
export interface SeedSummary {
  mean: number;
  std: number | null;
  n: number;
}

/** The results table (mIoU %). */
export interface ResultsTable {
  metric: "miou";
  methods: string[];
  groups: Array<{
    domain: string;
    rows: Array<{ dataset: string; values: Array<SeedSummary | null>; best: number[] }>;
    /** Mean over the group's datasets that have a value, per method. */
    mean: Array<number | null>;
  }>;
  /** Mean over every dataset that has a value, per method. */
  overall: Array<number | null>;
  overallBest: number[];
}

/** The efficiency table: parameters and measured speed, relative to a reference method. */
export interface EfficiencyTable {
  /** The method entry speeds are relative to (`full`, else `decoder`), `null` when neither ran. */
  reference: string | null;
  rows: Array<{
    method: string;
    runs: string;
    trainableParams: number | null;
    trainablePercent: number | null;
    peftParams: number | null;
    peftPercent: number | null;
    secondsPerStep: number | null;
    /** 100 · secondsPerStep / the reference's. */
    trainPercent: number | null;
    secondsPerImage: number | null;
    inferencePercent: number | null;
  }>;
}

/** A thesis table beside the study's own numbers. */
export interface CompareTable {
  id: string;
  title: string;
  /** For each thesis column, the study's methods that match it (possibly none). */
  columns: Array<{ label: string; methods: string[] }>;
  /** One row per study dataset the thesis table has. */
  rows: Array<{
    dataset: string;
    thesisLabel: string;
    thesis: number[];
    /** Per column, per matching method: the study's mean mIoU. */
    ours: Array<Array<number | null>>;
  }>;
  /**
   * Table 4.5 only: what the times are relative to. The thesis's are relative to full
   * fine-tuning; when the study's reference is `decoder` they are rescaled to the thesis's decoder
   * row (its T_train 38%, T_inference 100%) so that both sides mean the same.
   */
  relativeTo?: "full" | "decoder" | null;
  /** Table 4.5 only: per thesis row, the thesis's percentages and the study's. */
  efficiency?: Array<{
    label: string;
    methods: string[];
    thesis: { params: number | null; train: number; inference: number };
    ours: Array<
      { peftPercent: number | null; trainPercent: number | null; inferencePercent: number | null }
    >;
  }>;
}

/** Everything `study report` shows. */
export interface StudyReport {
  study: { name: string; description?: string; checkpoint: string; out: string };
  cells: ReportCell[];
  tables: { results: ResultsTable; efficiency: EfficiencyTable; compare?: CompareTable };
}

/**
 * Builds the report of the study in `outDir`. `compare` names a thesis table (`thesis-4.4`).
 *
 * @example
 * ```ts ignore
 * const report = await studyReport(await readStudyFolder("out/4.4"), "out/4.4", { compare: "thesis-4.4" });
 * report.tables.results.overall; // [41.2, 43.0, ...]
 * ```
 */
export async function studyReport(
  study: Study,
  outDir: string,
  options: { compare?: string } = {},
): Promise<StudyReport> {
  if (options.compare !== undefined && !THESIS_TABLE_IDS.includes(options.compare)) {
    throw new RangeError(
      `Unknown thesis table "${options.compare}" (known: ${THESIS_TABLE_IDS.join(", ")})`,
    );
  }
  const cells = await collectReportCells(study, outDir);
  const results = resultsTable(study, cells);
  const efficiency = efficiencyTable(study, cells);
  const report: StudyReport = {
    study: {
      name: study.name,
      ...(study.description !== undefined ? { description: study.description } : {}),
      checkpoint: study.checkpoint,
      out: outDir,
    },
    cells,
    tables: { results, efficiency },
  };
  if (options.compare !== undefined) {
    report.tables.compare = compareTable(study, results, efficiency, options.compare);
  }
  return report;
}

/** Reads every cell's `cell.json`, `eval.json` and run metrics. */
export async function collectReportCells(study: Study, outDir: string): Promise<ReportCell[]> {
  const cells: ReportCell[] = [];
  for (const cell of studyCells(study)) {
    const folder = cellDir(outDir, cell);
    const { state } = await cellState(outDir, cell);
    const record = await readCellRecord(folder);
    let scores: Record<string, unknown> = {};
    if (state === "done") {
      try {
        scores = JSON.parse(await Deno.readTextFile(`${folder}/eval.json`));
      } catch {
        scores = {};
      }
    }
    const number = (value: unknown) => typeof value === "number" ? value : null;
    cells.push({
      dataset: cell.dataset.name,
      method: cell.method.name,
      seed: cell.seed,
      status: state,
      miou: number(scores.miou),
      macc: number(scores.macc),
      pacc: number(scores.pacc),
      fwiou: number(scores.fwiou),
      trainSeconds: number(record?.stages.train?.seconds),
      secondsPerStep: state === "done" ? await runSecondsPerStep(`${folder}/run`) : null,
      secondsPerImage: state === "done" ? secondsPerImageOf(scores) : null,
      trainableParams: number(record?.trainableParams),
      peftParams: number(record?.peftParams),
      totalParams: number(record?.totalParams),
    });
  }
  return cells;
}

/**
 * Mean and sample standard deviation.
 *
 * @example
 * ```ts
 * seedSummary([1, 3]); // { mean: 2, std: 1.4142135623730951, n: 2 }
 * ```
 */
export function seedSummary(values: readonly number[]): SeedSummary | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1
    ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
    : null;
  return { mean, std, n: values.length };
}

/** The results table of `cells` in the thesis's layout. */
export function resultsTable(study: Study, cells: readonly ReportCell[]): ResultsTable {
  const methods = study.methods.map((m) => m.name);
  const domains = new Map<string, string[]>();
  for (const dataset of study.datasets) {
    const domain = domainOf(dataset);
    domains.set(domain, [...(domains.get(domain) ?? []), dataset.name]);
  }
  const order = [...domains.keys()].sort((a, b) => rank(a) - rank(b));
  const meanOf = (values: Array<number | null>) => {
    const present = values.filter((v): v is number => v !== null);
    return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
  };
  const allRows: Array<Array<number | null>> = [];
  const groups = order.map((domain) => {
    const rows = domains.get(domain)!.map((dataset) => {
      const values = methods.map((method) =>
        seedSummary(
          cells.filter((c) => c.dataset === dataset && c.method === method && c.miou !== null)
            .map((c) => c.miou!),
        )
      );
      allRows.push(values.map((v) => v?.mean ?? null));
      return { dataset, values, best: bestOf(values.map((v) => v?.mean ?? null)) };
    });
    const mean = methods.map((_, m) => meanOf(rows.map((row) => row.values[m]?.mean ?? null)));
    return { domain, rows, mean };
  });
  const overall = methods.map((_, m) => meanOf(allRows.map((row) => row[m]!)));
  return { metric: "miou", methods, groups, overall, overallBest: bestOf(overall) };
}

/** The efficiency table of `cells`. */
export function efficiencyTable(study: Study, cells: readonly ReportCell[]): EfficiencyTable {
  const average = (values: Array<number | null>) => {
    const present = values.filter((v): v is number => v !== null);
    return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
  };
  const measured = study.methods.map((method) => {
    const own = cells.filter((c) => c.method === method.name && c.status === "done");
    const first = own[0];
    const total = first?.totalParams ?? null;
    const trainable = first?.trainableParams ?? null;
    const peft = first?.peftParams ?? null;
    return {
      method: method.name,
      runs: method.method,
      trainableParams: trainable,
      trainablePercent: trainable !== null && total ? (100 * trainable) / total : null,
      peftParams: peft,
      peftPercent: peft !== null && total ? (100 * peft) / total : null,
      secondsPerStep: average(own.map((c) => c.secondsPerStep)),
      trainPercent: null as number | null,
      secondsPerImage: average(own.map((c) => c.secondsPerImage)),
      inferencePercent: null as number | null,
    };
  });
  const reference = measured.find((row) => row.runs === "full" && row.secondsPerStep !== null) ??
    measured.find((row) => row.runs === "decoder" && row.secondsPerStep !== null);
  for (const row of measured) {
    if (!reference) break;
    if (row.secondsPerStep !== null) {
      row.trainPercent = (100 * row.secondsPerStep) / reference.secondsPerStep!;
    }
    if (row.secondsPerImage !== null && reference.secondsPerImage) {
      row.inferencePercent = (100 * row.secondsPerImage) / reference.secondsPerImage;
    }
  }
  return { reference: reference?.method ?? null, rows: measured };
}

/** The study methods a thesis column stands for. */
export function matchingMethods(study: Study, match: ThesisMatch): string[] {
  return study.methods.filter((method) => {
    if (method.method !== match.method) return false;
    if (!match.settings) return true;
    const config = peftConfigOf(method.method, methodTrainOptions(study, method));
    return Object.entries(match.settings).every(([key, value]) =>
      config[key as keyof typeof config] === value
    );
  }).map((method) => method.name);
}

/** A thesis table (`--compare` name) beside the study's results and efficiency. */
export function compareTable(
  study: Study,
  results: ResultsTable,
  efficiency: EfficiencyTable,
  id: string,
): CompareTable {
  if (id === THESIS_EFFICIENCY.id) {
    const referenceRuns = efficiency.rows.find((r) => r.method === efficiency.reference)?.runs;
    const relativeTo = referenceRuns === "full" || referenceRuns === "decoder"
      ? referenceRuns
      : null;
    const thesisReference = THESIS_EFFICIENCY.rows.find((r) => r.match.method === relativeTo);
    const rescale = (value: number, of: number) =>
      relativeTo === "decoder" ? (100 * value) / of : value;
    return {
      id,
      title: THESIS_EFFICIENCY.title,
      columns: [],
      rows: [],
      relativeTo,
      efficiency: THESIS_EFFICIENCY.rows.map((row) => {
        const methods = matchingMethods(study, row.match);
        return {
          label: row.label,
          methods,
          thesis: {
            params: row.params,
            train: rescale(row.train, thesisReference?.train ?? 100),
            inference: rescale(row.inference, thesisReference?.inference ?? 100),
          },
          ours: methods.map((name) => {
            const mine = efficiency.rows.find((r) => r.method === name)!;
            return {
              peftPercent: mine.peftPercent,
              trainPercent: mine.trainPercent,
              inferencePercent: mine.inferencePercent,
            };
          }),
        };
      }),
    };
  }
  const table = THESIS_RESULT_TABLES[id]!;
  const columns = table.columns.map((column) => ({
    label: column.label,
    methods: matchingMethods(study, column.match),
  }));
  const rows: CompareTable["rows"] = [];
  for (const dataset of study.datasets) {
    const messId = messIdOf(dataset);
    const thesisRow = table.rows.find((row) => row.dataset === messId);
    if (!thesisRow) continue;
    const resultRow = results.groups.flatMap((g) => g.rows).find((r) =>
      r.dataset === dataset.name
    )!;
    rows.push({
      dataset: dataset.name,
      thesisLabel: thesisRow.label,
      thesis: [...thesisRow.values],
      ours: columns.map((column) =>
        column.methods.map((name) => resultRow.values[results.methods.indexOf(name)]?.mean ?? null)
      ),
    });
  }
  return { id, title: table.title, columns, rows };
}

function rank(domain: string): number {
  const index = MESS_DOMAINS.indexOf(domain);
  return index === -1 ? MESS_DOMAINS.length : index;
}

function bestOf(values: Array<number | null>): number[] {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return [];
  const best = Math.max(...present);
  return values.flatMap((v, i) => v === best ? [i] : []);
}
