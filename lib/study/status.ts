/**
 * Where a study's cells stand, from its output folder alone: done, failed, running (a lock held
 * by a live process or its child, or one on another host), pending (everything else,
 * interrupted cells included), and every interruption: how each cell was taken up again, or
 * that it waits to be.
 *
 * @module
 */
import { type CellRecord, type CellStage, readCellRecord } from "./cell_record.ts";
import { cellDir, studyCells } from "./cells.ts";
import { isStale, LOCK_FILE, readLock } from "./lock.ts";
import type { Study } from "./study_file.ts";

/** A cell's state as `study status` reports it. */
export type CellState = "done" | "failed" | "running" | "pending";

/** The status of every cell of a study. */
export interface StudyStatus {
  study: string;
  out: string;
  total: number;
  done: number;
  failed: number;
  running: number;
  pending: number;
  /** Failed cells with their errors. */
  failures: Array<{ cell: string; stage?: string; error: string }>;
  /** Cells being worked on, and by whom. */
  active: Array<{ cell: string; host: string; pid: number; since: string }>;
  /** Cells not done yet (failed ones not included), in the study's order. */
  pendingCells: string[];
  /**
   * Each interruption of a cell, in the study's order: `then` says how the cell was taken up
   * again (`resumed`: training from its checkpoint at `fromStep`; `redone`: the stage from
   * scratch, `why`), or `pending` while it waits for the next `study run`.
   */
  interrupted: InterruptedCell[];
}

/** One entry of {@link StudyStatus.interrupted}. */
export interface InterruptedCell {
  cell: string;
  stage: CellStage;
  then: "resumed" | "redone" | "pending";
  fromStep?: number;
  why?: string;
  /** When it was taken up again. */
  at?: string;
}

/**
 * Reads the state of each cell of `study` in `outDir`.
 *
 * @example
 * ```ts ignore
 * const status = await studyStatus(await readStudyFolder("out/4.4"), "out/4.4");
 * status.done; // 41
 * ```
 */
export async function studyStatus(study: Study, outDir: string): Promise<StudyStatus> {
  const status: StudyStatus = {
    study: study.name,
    out: outDir,
    total: 0,
    done: 0,
    failed: 0,
    running: 0,
    pending: 0,
    failures: [],
    active: [],
    pendingCells: [],
    interrupted: [],
  };
  for (const cell of studyCells(study)) {
    status.total++;
    const state = await cellState(outDir, cell);
    status[state.state]++;
    if (state.state === "failed") {
      status.failures.push({ cell: cell.id, stage: state.stage, error: state.error ?? "failed" });
    } else if (state.state === "running") {
      status.active.push({ cell: cell.id, ...state.holder! });
    } else if (state.state === "pending") status.pendingCells.push(cell.id);
    const record = await readCellRecord(cellDir(outDir, cell));
    for (const entry of record?.interruptions ?? []) {
      status.interrupted.push({ cell: cell.id, ...entry });
    }
    if (state.state === "pending" && record && isInterrupted(record)) {
      status.interrupted.push({ cell: cell.id, stage: stageReached(record), then: "pending" });
    }
  }
  return status;
}

/** A record that a process left unfinished: killed ("running", no live holder) or Ctrl-C. */
function isInterrupted(record: CellRecord): boolean {
  return record.status === "running" || record.status === "interrupted";
}

/** The stage an unfinished record was in: the first not finished. */
function stageReached(record: CellRecord): CellStage {
  const stages: CellStage[] = ["train", "eval", "gates"];
  return stages.find((stage) => !record.stages[stage]) ?? "gates";
}

/** The state of one cell (see {@link CellState}). */
export async function cellState(
  outDir: string,
  cell: { id: string },
): Promise<{
  state: CellState;
  error?: string;
  stage?: string;
  holder?: { host: string; pid: number; since: string };
}> {
  const folder = cellDir(outDir, cell);
  const lockPath = `${folder}/${LOCK_FILE}`;
  const holder = await readLock(lockPath);
  if (holder && !(await isStale(holder, lockPath))) return { state: "running", holder };
  const record = await readCellRecord(folder);
  if (record?.status === "done") return { state: "done" };
  if (record?.status === "failed") {
    return { state: "failed", error: record.error, stage: record.failedStage };
  }
  return { state: "pending" };
}
