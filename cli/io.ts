/**
 * Terminal conventions shared by every subcommand: JSON to stdout, logs to stderr, one-line
 * errors.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A mistake in how the command was called (bad option value, missing argument): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Writes `value` as JSON on stdout, followed by a newline. */
export function printJson(value: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(value, null, 2) + "\n"));
}

let quiet = false;

/** Silences {@link log} (the `--quiet` flag). */
export function setQuiet(value: boolean): void {
  quiet = value;
}

/** Writes one progress or log line to stderr unless `--quiet` was given. */
export function log(message: string): void {
  if (!quiet) Deno.stderr.writeSync(encoder.encode(message + "\n"));
}

/** Writes one error line to stderr (never silenced). */
export function logError(message: string): void {
  Deno.stderr.writeSync(encoder.encode(message + "\n"));
}

/** The signals that stop `train` and `study run` cleanly (checkpoint first, then exit 130). */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** A run stopped by the user (Ctrl-C) after saving its state: exit code 130, like a shell. */
export class Interrupted extends Error {
  override name = "Interrupted";
}

/**
 * Drops the `Aborted()` line that tfjs's wasm module prints (through `console.warn`) before it
 * throws: the error itself reaches `main()`, which reports it in one line. Must run before the
 * wasm backend starts (the module binds `console.warn` then).
 */
export function silenceWasmAbortLine(): void {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === "string" && /^Aborted\(.*\)$/.test(args[0])) {
      return;
    }
    warn(...args);
  };
}
