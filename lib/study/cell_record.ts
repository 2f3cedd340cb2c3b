/**
 * `cell.json`: what happened to one cell (status, error, times per stage, the exact command
 * lines, parameter counts), written atomically at each change so that readers (`study status`,
 * `study report`, other shards) never see half a file.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic_write.ts";

/** Where a cell stands. `running` with no live lock holder means it was interrupted. */
export type CellStatus = "running" | "done" | "failed" | "interrupted";

/** The stages of a cell. */
export type CellStage = "train" | "eval" | "gates";

/** One finished stage. */
export interface StageRecord {
  /** Wall-clock seconds of the command (the child process, start-up included). */
  seconds: number;
  finished: string;
  /** Train only: true when it continued an interrupted run (`train --resume`). */
  resumed?: boolean;
}

/** A time the cell was taken up again after an interruption (a kill, Ctrl-C, a lost node). */
export interface Interruption {
  /** The stage it was in. */
  stage: CellStage;
  /** ISO time it was taken up again. */
  at: string;
  /**
   * `resumed`: training continued from its checkpoint (at `fromStep`); `redone`: the stage
   * started over from scratch, for the reason in `why`.
   */
  then: "resumed" | "redone";
  fromStep?: number;
  why?: string;
}

/** The content of `cell.json`. */
export interface CellRecord {
  format: "mopeft-study-cell";
  version: 1;
  id: string;
  dataset: string;
  /** The method entry's name (the report column). */
  method: string;
  /** The registry method it runs (`baseline` for the untrained head). */
  runs: string;
  seed: number;
  status: CellStatus;
  /** The failing command's one-line error. */
  error?: string;
  failedStage?: CellStage;
  /**
   * SHA-256 of the cell's command lines: a finished cell is redone when they change (a study
   * rerun with `--force` after an edit).
   */
  settings: string;
  started: string;
  finished?: string;
  host: string;
  pid: number;
  stages: Partial<Record<CellStage, StageRecord>>;
  /** Each time the cell was taken up again after an interruption, oldest first. */
  interruptions?: Interruption[];
  /** The command lines, as run (program first), so that the cell can be redone by hand. */
  commands: Partial<Record<CellStage, string[]>>;
  /** The same as shell lines, with the output redirections the study used. */
  commandLines: Partial<Record<CellStage, string>>;
  /** Counted as `summary` does (`countParameters`); 0 for the baseline, which trains nothing. */
  trainableParams: number;
  peftParams: number;
  totalParams: number;
}

/** The record's file name in a cell folder. */
export const CELL_FILE = "cell.json";

/** Reads a cell folder's `cell.json`; `null` when there is none or it is not a cell record. */
export async function readCellRecord(cellFolder: string): Promise<CellRecord | null> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(`${cellFolder}/${CELL_FILE}`));
    return parsed?.format === "mopeft-study-cell" ? parsed : null;
  } catch {
    return null;
  }
}

/** Writes `record` as the cell folder's `cell.json`, atomically. */
export async function writeCellRecord(cellFolder: string, record: CellRecord): Promise<void> {
  await writeFileAtomic(`${cellFolder}/${CELL_FILE}`, JSON.stringify(record, null, 2) + "\n");
}
