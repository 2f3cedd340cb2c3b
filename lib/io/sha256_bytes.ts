/**
 * The SHA-256 of bytes held in memory, through Web Crypto (Deno and browsers alike): the web page
 * fingerprints the checkpoint it fetched as `fingerprint.ts` does a file.
 *
 * @module
 */

/**
 * The lowercase hex SHA-256 of `bytes`.
 *
 * @example
 * ```ts
 * import { sha256Bytes } from "./sha256_bytes.ts";
 * await sha256Bytes(new TextEncoder().encode("abc")); // "ba7816bf…"
 * ```
 */
export async function sha256Bytes(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
