/**
 * Opening a trained run for inference: the base SAM checkpoint plus the run's PEFT weights.
 *
 * @module
 */
import type { PeftModel } from "../peft/peft_model.ts";
import { loadPeftRun, type PeftManifest } from "../peft/run_files.ts";
import { type BaseCheckpoint, loadBaseCheckpoint } from "./base_checkpoint.ts";

/** A run ready to predict. */
export interface OpenRun {
  base: BaseCheckpoint;
  model: PeftModel;
  manifest: PeftManifest;
  /** Frees the run's and the checkpoint's tensors. */
  dispose(): void;
}

/**
 * Loads `checkpointPath` and the run in `runDir` onto it; refuses a run trained on another
 * checkpoint or architecture.
 *
 * @example
 * ```ts ignore
 * const run = await openRun("sam_vit_b.safetensors", "runs/kvasir");
 * const logits = run.model.forward(images);
 * run.dispose();
 * ```
 */
export async function openRun(checkpointPath: string, runDir: string): Promise<OpenRun> {
  const base = await loadBaseCheckpoint(checkpointPath);
  try {
    const { model, manifest } = await loadPeftRun(runDir, base.weights, base.fingerprint);
    return {
      base,
      model,
      manifest,
      dispose() {
        model.dispose();
        base.weights.dispose();
      },
    };
  } catch (error) {
    base.weights.dispose();
    throw error;
  }
}
