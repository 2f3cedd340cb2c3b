/**
 * Turns a low-level failure into the one-line message users see, naming the file. Internal to
 * `lib/io`.
 *
 * @module
 */

/**
 * Rethrows `error` with `prefix` (for example `Cannot read safetensors "x.safetensors"`) in front
 * of its message, keeping TypeError and RangeError as they are. A message that already carries
 * the prefix is left alone, another reader's prefix is replaced, and Deno's not-found errors
 * become "file not found".
 */
export function rethrowWithPrefix(error: unknown, prefix: string): never {
  if (error instanceof Error && error.message.startsWith(prefix)) throw error;
  const message = describeError(error);
  const options = { cause: error };
  if (error instanceof TypeError) throw new TypeError(`${prefix}: ${message}`, options);
  if (error instanceof RangeError) throw new RangeError(`${prefix}: ${message}`, options);
  throw new Error(`${prefix}: ${message}`, options);
}

function describeError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory, not a file";
  const raw = error instanceof Error ? error.message : String(error);
  // A nested reader already named the same file ("Cannot read ZIP archive "x.pth": ..."): keep
  // only its reason, so the user sees one prefix.
  return raw.split("\n")[0]!.trim().replace(/^Cannot [a-z]+ [^"]*"[^"]*": /, "");
}
