/**
 * Terminal conventions shared by every subcommand: JSON to stdout, logs to stderr, one-line
 * errors.
 *
 * @module
 */

import { PARENT_PIPE_ENV } from "../lib/study/child_command.ts";

const encoder = new TextEncoder();

/**
 * Writes all of `bytes` to stdout or stderr; a reader that is gone (a closed pipe: `| head`, or a
 * killed `study run`) is not an error of this command.
 */
export function writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, bytes: Uint8Array): void {
  try {
    let written = 0;
    while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/** A mistake in how the command was called (bad option value, missing argument): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Writes `value` as JSON on stdout, followed by a newline. */
export function printJson(value: unknown): void {
  writeAll(Deno.stdout, encoder.encode(JSON.stringify(value, null, 2) + "\n"));
}

let quiet = false;

/** Silences {@link log} (the `--quiet` flag). */
export function setQuiet(value: boolean): void {
  quiet = value;
}

/** Writes one progress or log line to stderr unless `--quiet` was given. */
export function log(message: string): void {
  if (!quiet) writeAll(Deno.stderr, encoder.encode(message + "\n"));
}

/** Writes one error line to stderr (never silenced). */
export function logError(message: string): void {
  writeAll(Deno.stderr, encoder.encode(message + "\n"));
}

/** The signals that stop `train` and `study run` cleanly (checkpoint first, then exit 130). */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

const stopListeners = new Set<() => void>();
let parentGone = false;

/**
 * In a child of `study run` ({@link PARENT_PIPE_ENV} set), watches stdin, a pipe the study holds
 * open: at its end of file the study is gone, and the command stops as on Ctrl-C, through the
 * listeners of {@link onStopRequest} (`train` saves a checkpoint, then exits 130); a command with
 * none exits 130 at once. Elsewhere it does nothing.
 */
export function watchParentPipe(): void {
  if (!Deno.env.get(PARENT_PIPE_ENV)) return;
  (async () => {
    const buffer = new Uint8Array(256);
    try {
      while ((await Deno.stdin.read(buffer)) !== null) {
        // The study never writes; anything read is ignored.
      }
    } catch {
      // A closed or broken stdin is the same news.
    }
    parentGone = true;
    setQuiet(true);
    if (stopListeners.size === 0) Deno.exit(130);
    for (const listener of stopListeners) listener();
  })();
}

/**
 * Calls `onStop` on a stop signal ({@link STOP_SIGNALS}) or when the parent study is gone (see
 * {@link watchParentPipe}); returns the function that stops listening.
 */
export function onStopRequest(onStop: () => void): () => void {
  for (const name of STOP_SIGNALS) Deno.addSignalListener(name, onStop);
  stopListeners.add(onStop);
  if (parentGone) queueMicrotask(onStop);
  return () => {
    for (const name of STOP_SIGNALS) Deno.removeSignalListener(name, onStop);
    stopListeners.delete(onStop);
  };
}

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
