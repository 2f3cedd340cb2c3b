/**
 * Telling an allocation failure from other errors, and saying it in one line: the wasm backend
 * ends with `Aborted(). Build with -sASSERTIONS for more info.` (or a `memory access out of
 * bounds` when a failed allocation is written to) when its heap would pass 4 GiB, JavaScript with
 * `Array buffer allocation failed`, WebGPU with an out-of-memory error.
 *
 * @module
 */
import { backendBytes, backendMemoryLimit } from "./backend_memory.ts";
import { tf } from "./tf.ts";

/** The backend (or JavaScript) ran out of memory; the message says which, how full, doing what. */
export class OutOfMemoryError extends Error {
  override name = "OutOfMemoryError";
  /** The message without its advice (which memory, how full, doing what), to advise anew. */
  readonly summary: string;

  constructor(summary: string, hint: string, options?: ErrorOptions) {
    super(`${summary}; ${hint}`, options);
    this.summary = summary;
  }
}

const JAVASCRIPT_ALLOCATION =
  /Array buffer allocation failed|Invalid typed array length|Invalid array buffer length|out of memory/i;

/**
 * True when `error` is an allocation failure. A wasm abort or out-of-bounds access counts when
 * the wasm heap is within 10% of its ceiling (tfjs's wasm code aborts on nothing else there).
 *
 * @example
 * ```ts ignore
 * try { train(...) } catch (error) { if (isOutOfMemory(error)) ... }
 * ```
 */
export function isOutOfMemory(error: unknown): boolean {
  if (error instanceof OutOfMemoryError) return true;
  if (!(error instanceof Error)) return false;
  if (error instanceof WebAssembly.RuntimeError) {
    if (!/^Aborted\(|memory access out of bounds/.test(error.message)) return false;
    const limit = backendMemoryLimit();
    const held = backendBytes();
    return limit !== null && held !== null && held >= 0.9 * limit.bytes;
  }
  return JAVASCRIPT_ALLOCATION.test(error.message);
}

/**
 * `error` as an {@link OutOfMemoryError} with one line: which memory ran out and how full it is,
 * what was running (`doing`, e.g. "training step 3 on 4 tiles of 1024 px"), and `hint`, what to
 * try. Returns `error` itself when it is not an allocation failure.
 *
 * @example
 * ```ts ignore
 * throw describeOutOfMemory(error, "encoding 4 images of 1024 px", "try a smaller batch");
 * // out of memory: the wasm heap is full (4.0 GiB in use; 4 GiB, the most 32-bit addresses
 * // reach) while encoding 4 images of 1024 px; try a smaller batch
 * ```
 */
export function describeOutOfMemory(error: unknown, doing?: string, hint?: string): unknown {
  if (error instanceof OutOfMemoryError || !isOutOfMemory(error)) return error;
  const limit = backendMemoryLimit();
  const held = backendBytes();
  const memory = limit
    ? `${limit.what} is full (${held !== null ? `${gib(held)} in use; ` : ""}${limit.why})`
    : tf.getBackend() === "webgpu"
    ? `GPU memory is full${held !== null ? ` (${gib(held)} allocated by tfjs)` : ""}`
    : "JavaScript memory is full";
  return new OutOfMemoryError(
    `out of memory: ${memory}` + (doing ? ` while ${doing}` : ""),
    hint ?? "try a smaller batch or image size",
    { cause: error },
  );
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
