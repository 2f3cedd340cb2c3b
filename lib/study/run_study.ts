/**
 * Running a study's cells (all, one shard of them, or one cell) one after another; a failed cell
 * is recorded and the others go on.
 *
 * @module
 */
import type { CellStage } from "./cell_record.ts";
import { type CellOutcome, runCell } from "./cell_runner.ts";
import { type StudyCell, studyCells } from "./cells.ts";
import type { LoadedStudy } from "./load_study.ts";
import { type Shard, shardCells } from "./shard.ts";
import { prepareStudyFolder } from "./study_folder.ts";

/** Options of {@link runStudy}. */
export interface RunStudyOptions {
  /** The `mopeft` program as a command line (see `CellRunContext.program`). */
  program: readonly string[];
  /** Only the cells of this shard. */
  shard?: Shard;
  /** Only this cell (an id of {@link studyCells}). */
  cellId?: string;
  /** Run in an output folder that holds a different study (see `prepareStudyFolder`). */
  force?: boolean;
  /** Stop after the current cell (Ctrl-C). */
  signal?: AbortSignal;
  /** Progress: a cell starts (`position` of `count` in this process's share), ends, or speaks. */
  onCellStart?: (cell: StudyCell, position: number, count: number) => void;
  onCellEnd?: (cell: StudyCell, outcome: CellOutcome) => void;
  onStage?: (cell: StudyCell, stage: CellStage, resumed: boolean, redone?: string) => void;
  onOutput?: (cell: StudyCell, stage: CellStage, line: string) => void;
}

/** What {@link runStudy} did. */
export interface StudyRunSummary {
  study: string;
  out: string;
  shard: string | null;
  /** Cells in this process's share. */
  cells: number;
  /** Finished by this process. */
  done: string[];
  /** Already finished before (skipped). */
  alreadyDone: string[];
  /** Held by another process (skipped). */
  locked: string[];
  failed: Array<{ cell: string; stage: string | undefined; error: string }>;
  /** Stopped by Ctrl-C; they resume on the next run. */
  interrupted: string[];
}

/**
 * Runs the cells of `loaded` into `outDir`.
 *
 * @example
 * ```ts ignore
 * const loaded = await loadStudy("studies/thesis-table-4.4.json", { root: "/data/MESS" });
 * const summary = await runStudy(loaded, "out/4.4", {
 *   program: [Deno.execPath(), "run", "-A", "cli.ts"], shard: { index: 0, count: 4 },
 * });
 * ```
 */
export async function runStudy(
  loaded: LoadedStudy,
  outDir: string,
  options: RunStudyOptions,
): Promise<StudyRunSummary> {
  const { study } = loaded;
  const all = studyCells(study);
  let cells: StudyCell[];
  if (options.cellId !== undefined) {
    const cell = all.find((c) => c.id === options.cellId);
    if (!cell) {
      throw new RangeError(
        `Study "${study.name}" has no cell "${options.cellId}" (cells look like ${all[0]!.id})`,
      );
    }
    cells = [cell];
  } else {
    cells = shardCells(all, options.shard);
  }
  await prepareStudyFolder(outDir, study, { force: options.force });
  const summary: StudyRunSummary = {
    study: study.name,
    out: outDir,
    shard: options.shard ? `${options.shard.index}/${options.shard.count}` : null,
    cells: cells.length,
    done: [],
    alreadyDone: [],
    locked: [],
    failed: [],
    interrupted: [],
  };
  for (const [position, cell] of cells.entries()) {
    if (options.signal?.aborted) break;
    options.onCellStart?.(cell, position, cells.length);
    const outcome = await runCell(cell, {
      study,
      outDir,
      program: options.program,
      architecture: loaded.architecture,
      classCounts: loaded.classCounts,
      onStage: (stage, resumed, redone) => options.onStage?.(cell, stage, resumed, redone),
      onOutput: (stage, line) => options.onOutput?.(cell, stage, line),
      signal: options.signal,
    });
    options.onCellEnd?.(cell, outcome);
    if (outcome.kind === "done") summary.done.push(cell.id);
    else if (outcome.kind === "failed") {
      summary.failed.push({
        cell: cell.id,
        stage: outcome.record.failedStage,
        error: outcome.record.error ?? "failed",
      });
    } else if (outcome.kind === "interrupted") {
      summary.interrupted.push(cell.id);
      break;
    } else if (outcome.why === "done") summary.alreadyDone.push(cell.id);
    else summary.locked.push(cell.id);
  }
  return summary;
}
