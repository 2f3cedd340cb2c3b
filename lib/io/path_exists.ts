/**
 * Whether a path exists, without exceptions for the common "no" answer.
 *
 * @module
 */

/**
 * True when `path` exists (file or folder); false when it does not; other errors (permissions)
 * are thrown.
 *
 * @example
 * ```ts
 * await pathExists("/"); // true
 * ```
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
