/**
 * `mopeft summary`: parameter counts of a method on a checkpoint.
 *
 * @module
 */
import type { Command } from "commander";
import { DEFAULT_QUERIES } from "../lib/decoder/detection_head.ts";
import { type HeadConfig, SEMANTIC_HEAD } from "../lib/decoder/head.ts";
import { inferArchitecture } from "../lib/encoder/architecture.ts";
import { openSafetensors } from "../lib/io/safetensors.ts";
import { countParameters } from "../lib/peft/count.ts";
import { printJson } from "./io.ts";
import { positiveInteger } from "./options.ts";
import { addPeftOptions, peftConfigFromOptions, type PeftOptions } from "./peft_options.ts";
import { addTaskOption } from "./task_options.ts";

interface SummaryOptions extends PeftOptions {
  checkpoint: string;
  numClasses: number;
  task?: "semantic" | "detection";
  queries?: number;
}

/** Registers `mopeft summary`. */
export function registerSummary(program: Command): void {
  const command = program.command("summary")
    .description(
      "Print, as JSON, the parameters a method adds and trains on a checkpoint " +
        "(counts as stored for inference; the prefix MLP apart as prefixReparam)",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors); only its header is read")
    .option("--num-classes <n>", "classes of the head", positiveInteger, 2)
    .option(
      "--queries <n>",
      `object queries of the detection head (default ${DEFAULT_QUERIES})`,
      positiveInteger,
    );
  addTaskOption(command);
  addPeftOptions(command).action(async (options: SummaryOptions) => {
    const config = peftConfigFromOptions(options);
    const file = await openSafetensors(options.checkpoint);
    let architecture;
    try {
      const shapes = new Map(file.names.map((name) => [name, file.info(name).shape]));
      architecture = inferArchitecture(shapes);
    } catch (error) {
      throw new Error(
        `Cannot read checkpoint "${options.checkpoint}": ${(error as Error).message}`,
      );
    } finally {
      file.close();
    }
    const head: HeadConfig = options.task === "detection"
      ? { task: "detection", queries: options.queries ?? DEFAULT_QUERIES }
      : SEMANTIC_HEAD;
    printJson({
      method: config.method,
      task: head.task,
      ...(head.task === "detection" ? { queries: head.queries } : {}),
      ...countParameters(architecture, config, options.numClasses, head),
    });
  });
}
