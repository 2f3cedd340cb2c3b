/**
 * The SHA-256 of a file, streamed: a vit_h checkpoint is 2.5 GB and is never held in memory.
 *
 * @module
 */
import { createHash } from "node:crypto";

const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * The lowercase hex SHA-256 of the file at `path`, read in 8 MiB chunks.
 *
 * @example
 * ```ts ignore
 * const sha256 = await sha256File("sam_vit_b.safetensors"); // "ab12…" (64 hex digits)
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(CHUNK_BYTES);
  while (true) {
    const read = await file.read(buffer);
    if (read === null) break;
    hash.update(buffer.subarray(0, read));
  }
  return hash.digest("hex");
}
