/**
 * A run's PEFT weights saved apart from SAM: `peft.safetensors` (the trained tensors, inference
 * form) and `peft.json` (method, every hyperparameter, class names, and the fingerprint of the
 * SAM checkpoint it was trained on, so that it is never loaded onto another one).
 *
 * @module
 */
import type { ModelWeights } from "../encoder/weights.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { mosaTrainingRules } from "./mosa.ts";
import type { PeftModel } from "./peft_model.ts";
import {
  type BaseFingerprint,
  PEFT_MANIFEST_FILE,
  PEFT_WEIGHTS_FILE,
  type PeftManifest,
  peftRunFromManifest,
} from "./run_manifest.ts";

export {
  type BaseFingerprint,
  describeArchitecture,
  PEFT_MANIFEST_FILE,
  PEFT_WEIGHTS_FILE,
  type PeftManifest,
  peftRunFromManifest,
} from "./run_manifest.ts";

/**
 * Writes `dir/peft.safetensors` and `dir/peft.json`, each atomically (the folder is created).
 *
 * @example
 * ```ts ignore
 * await savePeftRun("runs/kvasir", model, { classNames, baseFingerprint: { sha256, architecture } });
 * ```
 */
export async function savePeftRun(
  dir: string,
  model: PeftModel,
  options: { classNames: readonly string[]; baseFingerprint: BaseFingerprint },
): Promise<void> {
  if (options.classNames.length !== model.numClasses) {
    throw new RangeError(
      `savePeftRun() got ${options.classNames.length} class names for a model of ${model.numClasses} classes`,
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  const tensors = await model.exportTensors();
  await writeSafetensors(`${dir}/${PEFT_WEIGHTS_FILE}`, tensors, {
    metadata: { format: "mopeft-peft", method: model.config.method },
  });
  const mosa = mosaTrainingRules(model.config);
  const manifest: PeftManifest = {
    format: "mopeft-peft",
    version: 1,
    method: model.config.method,
    config: model.config,
    ...(mosa ? { mosa } : {}),
    classNames: [...options.classNames],
    seed: model.seed,
    baseCheckpoint: options.baseFingerprint,
    head: model.head,
  };
  await writeFileAtomic(`${dir}/${PEFT_MANIFEST_FILE}`, JSON.stringify(manifest, null, 2) + "\n");
}

/**
 * Reads a run saved by {@link savePeftRun} onto `baseWeights`. Refuses, with a one-line `Error`,
 * a run made for another architecture or another checkpoint (by SHA-256).
 *
 * @example
 * ```ts ignore
 * const { model, manifest } = await loadPeftRun("runs/kvasir", sam, { sha256, architecture, file });
 * ```
 */
export async function loadPeftRun(
  dir: string,
  baseWeights: ModelWeights,
  baseFingerprint: BaseFingerprint,
): Promise<{ model: PeftModel; manifest: PeftManifest }> {
  const fail = (why: string): never => {
    throw new Error(`Cannot load PEFT run "${dir}": ${why}`);
  };
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${PEFT_MANIFEST_FILE}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return fail(`it has no ${PEFT_MANIFEST_FILE}`);
    throw error;
  }
  return await peftRunFromManifest(
    dir,
    text,
    baseWeights,
    baseFingerprint,
    () => readSafetensors(`${dir}/${PEFT_WEIGHTS_FILE}`),
  );
}
