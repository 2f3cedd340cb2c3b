/**
 * Running one cell: take its lock, train (or continue an interrupted training run), evaluate,
 * inspect the gates of a gated method, and keep `cell.json` up to date at each step.
 *
 * @module
 */
import { hostname } from "node:os";
import type { SamArchitecture } from "../encoder/architecture.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { countParameters } from "../peft/count.ts";
import { inspectRunFolder } from "../run/run_folder.ts";
import { type CellCommands, cellCommands, shellLine } from "./cell_commands.ts";
import {
  type CellRecord,
  type CellStage,
  type Interruption,
  readCellRecord,
  writeCellRecord,
} from "./cell_record.ts";
import { cellDir, type StudyCell } from "./cells.ts";
import { runChild } from "./child_command.ts";
import { type CellLock, LOCK_FILE, type LockOwner, readLock, tryLock } from "./lock.ts";
import { BASELINE, methodTrainOptions, peftConfigOf, type Study } from "./study_file.ts";

/** What {@link runCell} needs besides the cell. */
export interface CellRunContext {
  study: Study;
  outDir: string;
  /** The `mopeft` program as a command line, e.g. `[deno, "run", "-A", ".../cli.ts"]`. */
  program: readonly string[];
  architecture: SamArchitecture;
  /** Class count of each dataset, by name. */
  classCounts: ReadonlyMap<string, number>;
  /** Each stderr line of the cell's commands (their progress), with the stage it came from. */
  onOutput?: (stage: CellStage, line: string) => void;
  /**
   * Called as each stage starts: `resumed` when training continues an interrupted run, `redone`
   * (why) when an interrupted stage starts over from scratch.
   */
  onStage?: (stage: CellStage, resumed: boolean, redone?: string) => void;
  /** Interrupts the running command (SIGINT: a training run saves a checkpoint first). */
  signal?: AbortSignal;
}

/** How a call of {@link runCell} ended. */
export type CellOutcome =
  | { kind: "done"; record: CellRecord }
  | { kind: "failed"; record: CellRecord }
  | { kind: "interrupted"; record: CellRecord }
  | { kind: "skipped"; why: "done" }
  | { kind: "skipped"; why: "locked"; holder: LockOwner | null };

/**
 * Runs `cell` unless it is done or another process holds it. A failing command marks the cell
 * failed with that command's one-line error; an interrupted one (exit 130, Ctrl-C) leaves it
 * resumable.
 *
 * @example
 * ```ts ignore
 * const outcome = await runCell(cell, { study, outDir, program, architecture, classCounts });
 * if (outcome.kind === "failed") console.error(outcome.record.error);
 * ```
 */
export async function runCell(cell: StudyCell, context: CellRunContext): Promise<CellOutcome> {
  const folder = cellDir(context.outDir, cell);
  const commands = cellCommands(context.study, cell, folder);
  const settings = await sha256Hex(JSON.stringify(commands));
  const before = await readCellRecord(folder);
  if (before?.status === "done" && before.settings === settings) {
    return { kind: "skipped", why: "done" };
  }
  await Deno.mkdir(folder, { recursive: true });
  const lock = await tryLock(`${folder}/${LOCK_FILE}`);
  if (!lock) {
    return { kind: "skipped", why: "locked", holder: await readLock(`${folder}/${LOCK_FILE}`) };
  }
  try {
    // Read again under the lock: another process may have finished it meanwhile.
    const previous = await readCellRecord(folder);
    if (previous?.status === "done" && previous.settings === settings) {
      return { kind: "skipped", why: "done" };
    }
    const sameSettings = previous?.settings === settings;
    const record: CellRecord = {
      format: "mopeft-study-cell",
      version: 1,
      id: cell.id,
      dataset: cell.dataset.name,
      method: cell.method.name,
      runs: cell.method.method,
      seed: cell.seed,
      status: "running",
      settings,
      started: new Date().toISOString(),
      host: hostname(),
      pid: Deno.pid,
      stages: sameSettings ? { ...previous!.stages } : {},
      ...(sameSettings && previous!.interruptions
        ? { interruptions: [...previous!.interruptions] }
        : {}),
      commands: sameSettings ? { ...previous!.commands } : {},
      commandLines: sameSettings ? { ...previous!.commandLines } : {},
      ...parameterCounts(cell, context),
    };
    // A failed stage is redone, and so is everything after it.
    if (sameSettings && previous?.failedStage) {
      for (const stage of stagesFrom(previous.failedStage)) delete record.stages[stage];
    }
    await writeCellRecord(folder, record);
    // A record left "running" (its holder died: the lock was stale) or "interrupted" (Ctrl-C)
    // with these settings: the stage it was in is taken up again.
    const interrupted = sameSettings &&
      (previous!.status === "running" || previous!.status === "interrupted");
    return await runStages(context, folder, commands, record, lock, interrupted);
  } finally {
    await lock.release();
  }
}

async function runStages(
  context: CellRunContext,
  folder: string,
  commands: CellCommands,
  record: CellRecord,
  lock: CellLock,
  interrupted: boolean,
): Promise<CellOutcome> {
  // The first stage run here is the one the interruption stopped.
  let pendingInterruption = interrupted;
  const noteInterruption = async (
    stage: CellStage,
    entry: Pick<Interruption, "then" | "fromStep" | "why">,
  ) => {
    if (!pendingInterruption) return;
    pendingInterruption = false;
    record.interruptions = [
      ...(record.interruptions ?? []),
      { stage, at: new Date().toISOString(), ...entry },
    ];
    await writeCellRecord(folder, record);
  };
  const program = context.program;
  // The lock names each command's process while it runs: should this process die, the cell is
  // not taken over before that child, which then stops at its next step, is gone too.
  const runCommand = async (stage: CellStage, args: readonly string[]) => {
    try {
      return await runChild(
        program,
        args,
        (line) => context.onOutput?.(stage, line),
        context.signal,
        (pid) => lock.setChild(pid),
      );
    } finally {
      await lock.setChild(null);
    }
  };
  const stop = async (
    stage: CellStage,
    code: number,
    error: string | null,
  ): Promise<CellOutcome> => {
    const interrupted = code === 130;
    record.status = interrupted ? "interrupted" : "failed";
    record.finished = new Date().toISOString();
    if (interrupted) delete record.error;
    else {
      record.error = error ?? `${stage} failed`;
      record.failedStage = stage;
    }
    await writeCellRecord(folder, record);
    return { kind: interrupted ? "interrupted" : "failed", record };
  };

  if (!record.stages.train) {
    const run = await inspectRunFolder(`${folder}/run`);
    const resumed = run.hasCheckpoint && Object.keys(record.commands).length > 0;
    const args = resumed
      ? commands.resume
      : run.hasRun || run.hasCheckpoint || run.hasSettings
      ? [...commands.train, "--force"]
      : commands.train;
    record.commands.train = [...program, ...args];
    record.commandLines.train = shellLine([...program, ...args]);
    await writeCellRecord(folder, record);
    const redone = pendingInterruption && !resumed
      ? "the interrupted run left no checkpoint"
      : undefined;
    await noteInterruption(
      "train",
      resumed
        ? { then: "resumed", fromStep: await checkpointStep(`${folder}/run`) }
        : { then: "redone", why: "no checkpoint" },
    );
    context.onStage?.("train", resumed, redone);
    const result = await runCommand("train", args);
    if (result.code !== 0) return await stop("train", result.code, result.error);
    record.stages.train = { seconds: result.seconds, finished: new Date().toISOString(), resumed };
    await writeCellRecord(folder, record);
  }

  const outputs: Array<[CellStage, string[] | undefined, string]> = [
    ["eval", commands.eval, "eval.json"],
    ["gates", commands.gates, "gates.json"],
  ];
  for (const [stage, args, file] of outputs) {
    if (!args || record.stages[stage]) continue;
    // Its command is recorded as it starts: without one, the interruption came before it.
    const started = record.commands[stage] !== undefined;
    record.commands[stage] = [...program, ...args];
    record.commandLines[stage] = `${shellLine([...program, ...args])} > ${
      shellLine([`${folder}/${file}`])
    }`;
    await writeCellRecord(folder, record);
    const redone = pendingInterruption && started ? `${args[0]} does not resume` : undefined;
    await noteInterruption(
      stage,
      started
        ? { then: "redone", why: `${args[0]} does not resume` }
        : { then: "resumed", why: "stopped before this stage" },
    );
    context.onStage?.(stage, false, redone);
    const result = await runCommand(stage, args);
    if (result.code !== 0) return await stop(stage, result.code, result.error);
    try {
      JSON.parse(result.stdout);
    } catch {
      return await stop(stage, 1, `${args[0]} printed no JSON result`);
    }
    await writeFileAtomic(`${folder}/${file}`, result.stdout);
    record.stages[stage] = { seconds: result.seconds, finished: new Date().toISOString() };
    await writeCellRecord(folder, record);
  }
  record.status = "done";
  delete record.error;
  delete record.failedStage;
  record.finished = new Date().toISOString();
  await writeCellRecord(folder, record);
  return { kind: "done", record };
}

/** The step of the checkpoint that `train --resume` continues from in `runDir`. */
async function checkpointStep(runDir: string): Promise<number | undefined> {
  for (const folder of ["checkpoint", "checkpoint.old"]) {
    try {
      const state = JSON.parse(await Deno.readTextFile(`${runDir}/${folder}/state.json`));
      if (Number.isInteger(state?.step)) return state.step;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function stagesFrom(stage: CellStage): CellStage[] {
  const order: CellStage[] = ["train", "eval", "gates"];
  return order.slice(order.indexOf(stage));
}

function parameterCounts(
  cell: StudyCell,
  context: CellRunContext,
): Pick<CellRecord, "trainableParams" | "peftParams" | "totalParams"> {
  const options = methodTrainOptions(context.study, cell.method);
  const baseline = cell.method.method === BASELINE;
  const config = peftConfigOf(cell.method.method, options);
  const count = countParameters(
    context.architecture,
    config,
    context.classCounts.get(cell.dataset.name) ?? 2,
  );
  return {
    trainableParams: baseline ? 0 : count.trainableParams,
    peftParams: baseline ? 0 : count.peftParams,
    totalParams: count.totalParams,
  };
}
