/**
 * The `mopeft` command line. Parses arguments, prints, and sets exit codes; the work itself is
 * done by the library (`mod.ts`).
 *
 * Exit codes: 0 success, 1 bad input or a failed run, 2 wrong usage.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { describeOutOfMemory } from "./lib/backend/out_of_memory.ts";
import {
  Interrupted,
  logError,
  silenceWasmAbortLine,
  UsageError,
  watchParentPipe,
} from "./cli/io.ts";
import { registerEmbed } from "./cli/embed.ts";
import { registerTrain } from "./cli/train.ts";
import { registerEval } from "./cli/eval.ts";
import { registerInspectGates } from "./cli/inspect_gates.ts";
import { registerPredict } from "./cli/predict.ts";
import { registerSummary } from "./cli/summary.ts";
import { registerMerge } from "./cli/merge.ts";
import { registerScore } from "./cli/score.ts";
import { registerMergeScores } from "./cli/merge_scores.ts";
import { registerScoreDetections } from "./cli/score_detections.ts";
import { registerDatasets } from "./cli/datasets.ts";
import { registerConvert } from "./cli/convert.ts";
import { registerBench } from "./cli/bench.ts";
import { registerStudy } from "./cli/study.ts";
import { registerWeb } from "./cli/web.ts";
import { registerExport } from "./cli/export.ts";

/** Builds the program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command("mopeft")
    .description(
      "Fine-tune the Segment Anything Model for semantic segmentation or object detection " +
        "with a Mixture of PEFTs.",
    )
    .version("0.1.0")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
      writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
      // One line, in the same form as every other error: "mopeft: <what is wrong> (see --help)".
      outputError: (text, write) =>
        write(`mopeft: ${text.trim().replace(/^error: /, "")} (see --help)\n`),
    });
  for (const register of commands) register(program);
  // Subcommands inherit the parent's error handling so that usage errors exit with code 2.
  for (const sub of program.commands) sub.exitOverride();
  markRequired(program);
  return program;
}

/** Ends the help text of every mandatory option, in every (sub)command, with "(required)". */
function markRequired(command: Command): void {
  for (const option of command.options) {
    if (option.mandatory && !option.description.includes("(required")) {
      option.description = `${option.description} (required)`;
    }
  }
  for (const sub of command.commands) markRequired(sub);
}

const commands: Array<(program: Command) => void> = [
  registerEmbed,
  registerTrain,
  registerEval,
  registerInspectGates,
  registerPredict,
  registerSummary,
  registerMerge,
  registerScore,
  registerScoreDetections,
  registerMergeScores,
  registerDatasets,
  registerConvert,
  registerBench,
  registerStudy,
  registerWeb,
  registerExport,
];

/** Runs the command line with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version output end in a CommanderError with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof Interrupted) {
      logError(`mopeft: ${error.message}`);
      return 130;
    }
    if (error instanceof UsageError) {
      logError(`mopeft: ${error.message}`);
      return 2;
    }
    // Any command can run out of memory; say which memory, in one line (train adds its step).
    const described = describeOutOfMemory(
      error,
      undefined,
      "try a smaller --batch-size or image size, or --backend webgpu",
    );
    const message = described instanceof Error ? described.message : String(described);
    logError(`mopeft: ${message}`);
    if (Deno.env.get("MOPEFT_DEBUG") && error instanceof Error && error.stack) {
      logError(error.stack);
    }
    return 1;
  }
}

if (import.meta.main) {
  silenceWasmAbortLine();
  watchParentPipe();
  Deno.exit(await main(Deno.args));
}
