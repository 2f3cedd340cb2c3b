/**
 * Reading byte ranges of a file by offset, so that multi-gigabyte checkpoints are never loaded
 * whole.
 *
 * @module
 */

/**
 * A file opened for reading at arbitrary offsets. Reads are queued one after another because a
 * Deno file handle has a single position shared by `seek` and `read`.
 *
 * @example
 * ```ts ignore
 * const file = await RandomAccessFile.open("model.safetensors");
 * const first8 = await file.readAt(0, 8);
 * file.close();
 * ```
 */
export class RandomAccessFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** Size in bytes at the time of opening. */
  readonly size: number;
  #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(path: string, file: Deno.FsFile, size: number) {
    this.path = path;
    this.#file = file;
    this.size = size;
  }

  /** Opens `path` for reading; throws Deno's NotFound when it does not exist. */
  static async open(path: string): Promise<RandomAccessFile> {
    const file = await Deno.open(path, { read: true });
    try {
      const info = await file.stat();
      if (!info.isFile) throw new Deno.errors.IsADirectory(`"${path}" is not a regular file`);
      return new RandomAccessFile(path, file, info.size);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Reads `length` bytes starting at byte `offset` into a new array. */
  readAt(offset: number, length: number): Promise<Uint8Array> {
    const target = new Uint8Array(length);
    return this.readInto(offset, target).then(() => target);
  }

  /** Fills `target` with the bytes starting at `offset`; throws if the file ends first. */
  readInto(offset: number, target: Uint8Array): Promise<void> {
    const run = this.#queue.then(() => this.#readIntoNow(offset, target));
    // A failed read must not poison the reads queued after it.
    this.#queue = run.catch(() => {});
    return run;
  }

  async #readIntoNow(offset: number, target: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error("file is already closed");
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + target.length > this.size) {
      throw new RangeError(
        `byte range [${offset}, ${offset + target.length}) lies outside the ${this.size}-byte file`,
      );
    }
    await this.#file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < target.length) {
      const count = await this.#file.read(target.subarray(filled));
      if (count === null) {
        throw new RangeError(`unexpected end of file at byte ${offset + filled}`);
      }
      filled += count;
    }
  }

  /** Closes the file; later reads fail. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
