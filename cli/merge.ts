/**
 * `mopeft merge`: fold what merges exactly (ungated LoRA) into a plain SAM checkpoint.
 *
 * @module
 */
import type { Command } from "commander";
import { openSafetensors, writeSafetensors } from "../lib/io/safetensors.ts";
import { validatePeftConfig } from "../lib/peft/config.ts";
import { mergeability, mergeIntoSam } from "../lib/peft/merge.ts";
import { PEFT_MANIFEST_FILE } from "../lib/peft/run_files.ts";
import { openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { log, printJson, setQuiet } from "./io.ts";

interface MergeOptions {
  checkpoint: string;
  peft: string;
  out: string;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Registers `mopeft merge`. */
export function registerMerge(program: Command): void {
  const command = program.command("merge")
    .description(
      "Fold a run's ungated LoRA into SAM's qkv weights and write a plain SAM checkpoint " +
        "(the trained semantic decoder stays in the run's peft.safetensors)",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .requiredOption("--peft <dir>", "trained run folder")
    .requiredOption("--out <file>", "merged SAM checkpoint (.safetensors)")
    .option("--quiet", "no progress output", false);
  addBackendOptions(command).action(async (options: MergeOptions) => {
    setQuiet(options.quiet);
    // Refuse what cannot merge before loading anything large.
    const manifestPath = `${options.peft}/${PEFT_MANIFEST_FILE}`;
    let config;
    try {
      config = validatePeftConfig(JSON.parse(await Deno.readTextFile(manifestPath)).config);
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? "file not found"
        : (error as Error).message;
      throw new Error(`Cannot read PEFT run "${options.peft}": ${PEFT_MANIFEST_FILE}: ${why}`);
    }
    const check = mergeability(config);
    if (!check.mergeable) {
      throw new Error(
        `Cannot merge run "${options.peft}" (method ${config.method}): ${check.reason}`,
      );
    }
    await startBackend(options);
    const run = await openRun(options.checkpoint, options.peft);
    const merged = mergeIntoSam(
      run.base.weights,
      run.manifest.config,
      await run.model.exportTensors(),
    );
    const source = await openSafetensors(options.checkpoint);
    try {
      log(`mopeft: merging ${merged.size} qkv weights into ${options.out}`);
      await writeSafetensors(
        options.out,
        source.names.map((name) => ({
          name,
          shape: source.info(name).shape,
          data: async () => {
            const tensor = merged.get(name);
            return tensor ? await tensor.data() as Float32Array : await source.read(name);
          },
        })),
        { metadata: { merged_from: options.peft, method: config.method } },
      );
    } finally {
      source.close();
      for (const tensor of merged.values()) tensor.dispose();
      run.dispose();
    }
    printJson({ out: options.out, method: config.method, mergedTensors: merged.size });
  });
}
