/**
 * `mopeft study run|plan|status|report`: a grid of experiments (datasets x methods x seeds) as
 * one resumable, shardable command. Each cell's train, eval and inspect-gates run as child
 * processes of this same program, so every cell's command lines can be rerun by hand.
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { shellLine } from "../lib/study/cell_commands.ts";
import type { CellStage } from "../lib/study/cell_record.ts";
import { studyCells } from "../lib/study/cells.ts";
import { loadStudy } from "../lib/study/load_study.ts";
import { studyReport } from "../lib/study/report.ts";
import { reportCsv, reportMarkdown } from "../lib/study/report_format.ts";
import { resultsSvg } from "../lib/study/results_svg.ts";
import { runStudy } from "../lib/study/run_study.ts";
import { type Shard, shardFromEnvironment } from "../lib/study/shard.ts";
import { cellState, studyStatus } from "../lib/study/status.ts";
import { readStudyFolder } from "../lib/study/study_folder.ts";
import { THESIS_TABLE_IDS } from "../lib/study/thesis_tables.ts";
import { Interrupted, log, printJson, setQuiet, STOP_SIGNALS, UsageError, writeAll } from "./io.ts";
import { positiveInteger, shardSpec } from "./options.ts";

interface StudyInputOptions {
  out: string;
  checkpoint?: string;
  root?: string;
}

interface RunOptions extends StudyInputOptions {
  shard?: Shard;
  shards?: number;
  cell?: string;
  force: boolean;
  quiet: boolean;
}

/** Registers `mopeft study` and its subcommands. */
export function registerStudy(program: Command): void {
  const study = program.command("study")
    .description(
      "Run a study file's grid of cells (dataset x method x seed: train, eval, inspect-gates) " +
        "resumably, split over processes or machines; report it in the thesis's layout",
    );
  const inputs = (command: Command) =>
    command
      .requiredOption("--out <dir>", "the study's output folder (shared by every shard)")
      .option("--checkpoint <file>", "SAM checkpoint, instead of the study file's")
      .option("--root <dir>", "MESS root folder, instead of the study file's");

  inputs(
    study.command("run")
      .description("Run the study's cells that are not done (all, a shard, or one)")
      .argument("<study>", "study file (JSON)"),
  )
    .option("--shard <I/N>", "run cells I, I+N, I+2N, ... of the study's order", shardSpec)
    .option(
      "--shards <n>",
      "shard count for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX is the shard)",
      positiveInteger,
    )
    .option("--cell <id>", "run only this cell (<dataset>/<method>/seed-<k>)")
    .option("--force", "run in an --out folder that holds a different study", false)
    .option("--quiet", "no progress output", false)
    .action(async (file: string, options: RunOptions) => {
      setQuiet(options.quiet);
      await studyRun(file, options);
    });

  inputs(
    study.command("plan")
      .description(
        "Print one `study run ... --cell ID` command line per cell not yet done (for GNU parallel or xargs)",
      )
      .argument("<study>", "study file (JSON)"),
  ).action(async (file: string, options: StudyInputOptions) => {
    const loaded = await loadStudy(file, options);
    const lines: string[] = [];
    const counts = { done: 0, running: 0 };
    const cells = studyCells(loaded.study);
    for (const cell of cells) {
      const { state } = await cellState(options.out, cell);
      if (state === "done" || state === "running") {
        counts[state]++;
        continue;
      }
      lines.push(shellLine([
        ...mopeftProgram(),
        "study",
        "run",
        resolve(file),
        "--out",
        resolve(options.out),
        ...(options.checkpoint ? ["--checkpoint", resolve(options.checkpoint)] : []),
        ...(options.root ? ["--root", resolve(options.root)] : []),
        "--cell",
        cell.id,
      ]));
    }
    if (lines.length) writeAll(Deno.stdout, new TextEncoder().encode(lines.join("\n") + "\n"));
    else {
      log(
        `mopeft study: nothing to do: ${cells.length} cell${cells.length === 1 ? "" : "s"}, ` +
          `${counts.done} done, ${counts.running} running`,
      );
    }
  });

  study.command("status")
    .description("Print, as JSON, how many cells are done, failed, running and pending")
    .argument("<dir>", "the study's output folder")
    .action(async (dir: string) => {
      printJson(await studyStatus(await readStudyFolder(dir), dir));
    });

  study.command("report")
    .description(
      "Print the study's results in the thesis's layout (domains, means, best per row, " +
        "mean ± std over seeds) and its efficiency table",
    )
    .argument("<dir>", "the study's output folder")
    .addOption(
      new Option("--format <kind>", "output format").choices(["markdown", "csv", "json"])
        .default("markdown"),
    )
    .addOption(
      new Option("--compare <table>", "set the thesis's own numbers beside the study's")
        .choices([...THESIS_TABLE_IDS]),
    )
    .option("--svg <file>", "also draw the results as grouped bars per dataset")
    .action(async (dir: string, options: { format: string; compare?: string; svg?: string }) => {
      const report = await studyReport(await readStudyFolder(dir), dir, {
        compare: options.compare,
      });
      if (options.svg) {
        await writeFileAtomic(
          options.svg,
          resultsSvg(report.tables.results, { title: `${report.study.name}: mIoU` }),
        );
      }
      if (options.format === "json") printJson(report);
      else {
        const text = options.format === "csv" ? reportCsv(report) : reportMarkdown(report);
        Deno.stdout.writeSync(new TextEncoder().encode(text));
      }
    });

  // Usage errors of the nested subcommands exit with code 2, as the others do.
  for (const sub of study.commands) sub.exitOverride();
}

async function studyRun(file: string, options: RunOptions): Promise<void> {
  let shard = options.shard;
  if (shard && options.cell) throw new UsageError("give --shard or --cell, not both");
  if (!shard && !options.cell) {
    try {
      shard = shardFromEnvironment(Deno.env.toObject(), options.shards);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  } else if (options.shards !== undefined && !shard) {
    throw new UsageError("--shards goes with JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)");
  }
  const loaded = await loadStudy(file, options);
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  // Ctrl-C, or a scheduler's SIGTERM (Slurm's time limit, a Kubernetes pod's end).
  for (const name of STOP_SIGNALS) Deno.addSignalListener(name, onInterrupt);
  let summary;
  const started = new Map<string, number>();
  try {
    summary = await runStudy(loaded, options.out, {
      program: mopeftProgram(),
      shard,
      cellId: options.cell,
      force: options.force,
      signal: abort.signal,
      onCellStart: (cell, position, count) => {
        started.set(cell.id, performance.now());
        log(`mopeft study: [${position + 1}/${count}] ${cell.id}`);
      },
      onStage: (_cell, stage: CellStage, resumed, redone) =>
        log(
          `  ${stage}${
            resumed
              ? " (resuming the interrupted run)"
              : redone
              ? ` (interrupted before; redone from scratch: ${redone})`
              : ""
          }`,
        ),
      onOutput: (_cell, _stage, line) => log(`    ${line}`),
      onCellEnd: (cell, outcome) => {
        const seconds = (performance.now() - (started.get(cell.id) ?? 0)) / 1000;
        if (outcome.kind === "done") log(`  done in ${seconds.toFixed(1)} s`);
        else if (outcome.kind === "failed") {
          log(`  failed (${outcome.record.failedStage}): ${outcome.record.error}`);
        } else if (outcome.kind === "interrupted") log("  interrupted; it resumes on the next run");
        else if (outcome.why === "done") log("  already done");
        else {
          const holder = outcome.holder;
          log(
            `  skipped: held by ${holder ? `${holder.host} pid ${holder.pid}` : "another process"}`,
          );
        }
      },
    });
  } finally {
    for (const name of STOP_SIGNALS) Deno.removeSignalListener(name, onInterrupt);
  }
  printJson(summary);
  if (summary.interrupted.length > 0 || abort.signal.aborted) {
    throw new Interrupted("study interrupted; run the same command again to continue");
  }
  if (summary.failed.length > 0) {
    throw new Error(
      `${summary.failed.length} cell${summary.failed.length === 1 ? "" : "s"} failed (first: ${
        summary.failed[0]!.cell
      }: ${summary.failed[0]!.error})`,
    );
  }
}

/**
 * This program as a command line for child processes: `deno run -A <cli.ts>` under Deno, the
 * binary itself when compiled with `deno compile`.
 */
function mopeftProgram(): string[] {
  const exec = Deno.execPath();
  if (/^deno(\.exe)?$/i.test(basename(exec))) {
    return [exec, "run", "-A", fileURLToPath(new URL("../cli.ts", import.meta.url))];
  }
  return [exec];
}
