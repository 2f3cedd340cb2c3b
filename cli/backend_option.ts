/**
 * The `--backend` and `--verbose` options every compute subcommand takes.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { BACKEND_NAMES, type BackendChoice, useBackend } from "../lib/backend/backend.ts";
import { log } from "./io.ts";

/** Adds `--backend auto|webgpu|wasm|cpu` and `--verbose` to `command`. */
export function addBackendOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--backend <name>", "compute backend").choices(BACKEND_NAMES).default("auto"),
    )
    .option("--verbose", "print the chosen backend and adapter to stderr", false);
}

/** Starts the backend the options ask for; with `--verbose` says which on stderr. */
export async function startBackend(
  options: { backend: string; verbose?: boolean },
): Promise<BackendChoice> {
  const choice = await useBackend(options.backend as typeof BACKEND_NAMES[number]);
  if (options.verbose) log(`mopeft: ${choice.reason}`);
  return choice;
}
