/**
 * The SAM checkpoint a run is built on: its weights and its fingerprint.
 *
 * @module
 */
import { loadCheckpoint } from "../encoder/checkpoint.ts";
import type { SamWeights } from "../encoder/weights.ts";
import { sha256File } from "../io/fingerprint.ts";
import type { BaseFingerprint } from "../peft/run_files.ts";

/** A loaded base checkpoint. */
export interface BaseCheckpoint {
  weights: SamWeights;
  fingerprint: BaseFingerprint;
}

/**
 * Loads a SAM checkpoint (safetensors) and fingerprints it (SHA-256 of the file and the
 * architecture), so that PEFT runs are only ever loaded onto the checkpoint they were trained on.
 *
 * @example
 * ```ts ignore
 * const base = await loadBaseCheckpoint("sam_vit_b.safetensors");
 * base.fingerprint.sha256; // "3f1c..."
 * ```
 */
export async function loadBaseCheckpoint(path: string): Promise<BaseCheckpoint> {
  const weights = await loadCheckpoint(path);
  const sha256 = await sha256File(path);
  return { weights, fingerprint: { sha256, architecture: weights.architecture, file: path } };
}
