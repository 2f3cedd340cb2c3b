/**
 * Opening a trained run from bytes held in memory (what a web page fetches): the base checkpoint
 * and the run's `peft.json` and `peft.safetensors`, with the same checks and messages as
 * {@link openRun} on files, the checkpoint's fingerprint included.
 *
 * @module
 */
import { loadSamWeights } from "../encoder/weights.ts";
import { parseSafetensorsBytes } from "../io/safetensors_bytes.ts";
import { sha256Bytes } from "../io/sha256_bytes.ts";
import type { TensorValues } from "../peft/peft_model.ts";
import { peftRunFromManifest } from "../peft/run_manifest.ts";
import type { OpenRun } from "./open_run.ts";

/** A run's files as bytes, each with the name its messages use. */
export interface RunBytes {
  checkpoint: { bytes: Uint8Array; label: string };
  /** `peft.json`'s text. */
  manifest: string;
  /** `peft.safetensors`. */
  weights: { bytes: Uint8Array; label: string };
  /** The run's name in messages (its folder in `openRun`). */
  runLabel: string;
}

/**
 * Loads the checkpoint and the run from `files`; refuses a run trained on another checkpoint
 * (SHA-256 of the checkpoint's bytes) or architecture.
 *
 * @example
 * ```ts ignore
 * const run = await openRunFromBytes({ checkpoint, manifest, weights, runLabel: "kvasir" });
 * ```
 */
export async function openRunFromBytes(files: RunBytes): Promise<OpenRun> {
  const checkpoint = parseSafetensorsBytes(files.checkpoint.bytes, files.checkpoint.label);
  const shapes = new Map(checkpoint.names.map((name) => [name, checkpoint.shape(name)]));
  const weights = await loadSamWeights({
    shapes: () => shapes,
    read: (name) => Promise.resolve(checkpoint.read(name)),
  }, files.checkpoint.label);
  try {
    const fingerprint = {
      sha256: await sha256Bytes(files.checkpoint.bytes),
      architecture: weights.architecture,
      file: files.checkpoint.label,
    };
    const { model, manifest } = await peftRunFromManifest(
      files.runLabel,
      files.manifest,
      weights,
      fingerprint,
      () => Promise.resolve(tensorValues(files.weights.bytes, files.weights.label)),
    );
    return {
      base: { weights, fingerprint },
      model,
      manifest,
      dispose() {
        model.dispose();
        weights.dispose();
      },
    };
  } catch (error) {
    weights.dispose();
    throw error;
  }
}

function tensorValues(bytes: Uint8Array, label: string): TensorValues {
  const file = parseSafetensorsBytes(bytes, label);
  return new Map(
    file.names.map((name) => [name, { shape: file.shape(name), data: file.read(name) }]),
  );
}
