/**
 * Atomic file writes: the content goes to a temporary file in the target's folder, which is then
 * renamed over the target. Readers never see a half-written file, and a failed or interrupted
 * write leaves an existing target untouched.
 *
 * @module
 */

/**
 * Creates a temporary file beside `path`, lets `write` fill it, flushes it to disk and renames it
 * to `path`. If `write` throws, the temporary file is removed and the target is left as it was.
 * Returns what `write` returns.
 *
 * @example
 * ```ts ignore
 * await withAtomicFile("report.json", async (file) => {
 *   await file.write(new TextEncoder().encode("{}\n"));
 * });
 * ```
 */
export async function withAtomicFile<T>(
  path: string,
  write: (file: Deno.FsFile) => Promise<T>,
): Promise<T> {
  const tempPath = temporaryPathBeside(path);
  let file: Deno.FsFile;
  try {
    // createNew: never clobber a file someone else put there under the same random name.
    file = await Deno.open(tempPath, { write: true, createNew: true, mode: 0o644 });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`the folder "${folderOf(path) || "."}" does not exist`, { cause: error });
    }
    throw error;
  }
  let closed = false;
  try {
    const result = await write(file);
    await file.syncData();
    file.close();
    closed = true;
    await Deno.rename(tempPath, path);
    return result;
  } catch (error) {
    if (!closed) file.close();
    await Deno.remove(tempPath).catch(() => {});
    throw error;
  }
}

/**
 * Writes `data` (bytes, or a string written as UTF-8) to `path` atomically.
 *
 * @example
 * ```ts ignore
 * await writeFileAtomic("run/config.json", JSON.stringify({ rank: 8 }) + "\n");
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await withAtomicFile(path, (file) => writeAll(file, bytes));
}

/**
 * Writes every byte of `bytes` to `file` (a single `write` call may write fewer).
 *
 * @example
 * ```ts ignore
 * using file = await Deno.open("out.bin", { write: true, create: true });
 * await writeAll(file, new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
  }
}

/** The folder part of `path` with its trailing separator ("" for a bare file name). */
function folderOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** `dir/.name.<random>.tmp`: same folder (so the rename stays on one file system), hidden. */
function temporaryPathBeside(path: string): string {
  const dir = folderOf(path);
  const base = path.slice(dir.length);
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${dir}.${base}.${random[0]!.toString(36)}${random[1]!.toString(36)}.tmp`;
}
