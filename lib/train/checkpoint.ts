/**
 * Resumable training checkpoints: a folder `checkpoint/` holding
 *
 * - `state.safetensors`: every trainable variable (`variable/<name>`) and Adam's moments
 *   (`adam_m/<name>`, `adam_v/<name>`), float32;
 * - `state.json`: step, epoch, batches consumed in that epoch, the data-order seed, Adam's update
 *   count, and the training options.
 *
 * A checkpoint is written into a fresh hidden folder first; only when both files are complete
 * does it replace the previous one (old folder renamed to `checkpoint.old`, new folder renamed
 * in, old removed). A kill at any moment therefore leaves either the previous or the new
 * checkpoint whole; {@link loadTrainingCheckpoint} falls back to `checkpoint.old` when it finds
 * no `checkpoint/`.
 *
 * @module
 */
import { pathExists } from "../io/path_exists.ts";
import { readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { AdamState } from "./adam.ts";

/** Format tag of `state.json`. */
export const TRAINING_CHECKPOINT_FORMAT = "mopeft-train-state-v1";

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainingCheckpoint {
  /** Optimisation steps done. */
  step: number;
  /** Epoch the next batch comes from. */
  epoch: number;
  /** Batches of `epoch` already consumed (skipped on resume). */
  batchInEpoch: number;
  /** Seed of the reader's per-epoch file order (`null`: sorted order). */
  seed: number | null;
  /** The run's options, JSON (batch size, schedule, weight decay, ...). */
  options: Record<string, unknown>;
  /** Trainable variables by name. */
  variables: Map<string, { shape: number[]; data: Float32Array }>;
  /** Adam's update count and moments. */
  optimizer: AdamState;
}

/**
 * Writes `state` as `<dir>/checkpoint/`, replacing an earlier checkpoint only once the new one is
 * complete. Creates `dir` if needed.
 *
 * @example
 * ```ts ignore
 * await saveTrainingCheckpoint("runs/kvasir", state); // runs/kvasir/checkpoint/state.{json,safetensors}
 * ```
 */
export async function saveTrainingCheckpoint(
  dir: string,
  state: TrainingCheckpoint,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  const staging = `${dir}/.checkpoint.${random}.tmp`;
  await Deno.mkdir(staging);
  try {
    const tensors = [];
    for (const [name, { shape, data }] of state.variables) {
      const moments = state.optimizer.moments.get(name);
      if (!moments) throw new Error(`Checkpoint has no Adam moments for variable "${name}"`);
      tensors.push(
        { name: `variable/${name}`, shape, data },
        { name: `adam_m/${name}`, shape, data: moments.m },
        { name: `adam_v/${name}`, shape, data: moments.v },
      );
    }
    await writeSafetensors(`${staging}/state.safetensors`, tensors, {
      metadata: { format: TRAINING_CHECKPOINT_FORMAT },
    });
    const json = {
      format: TRAINING_CHECKPOINT_FORMAT,
      step: state.step,
      epoch: state.epoch,
      batchInEpoch: state.batchInEpoch,
      seed: state.seed,
      adamStep: state.optimizer.step,
      variables: [...state.variables.keys()],
      options: state.options,
    };
    await writeFileAtomic(`${staging}/state.json`, JSON.stringify(json, null, 2) + "\n");
    const current = `${dir}/checkpoint`;
    const old = `${dir}/checkpoint.old`;
    await Deno.remove(old, { recursive: true }).catch(() => {});
    if (await pathExists(current)) await Deno.rename(current, old);
    await Deno.rename(staging, current);
    await Deno.remove(old, { recursive: true }).catch(() => {});
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Reads the checkpoint in `dir` (`checkpoint/`, or `checkpoint.old/` left by an interrupted
 * save); `null` when there is none. Throws a one-line error for a damaged one.
 *
 * @example
 * ```ts ignore
 * const state = await loadTrainingCheckpoint("runs/kvasir");
 * if (state) await train(model, reader, { ...options, resumeFrom: state });
 * ```
 */
export async function loadTrainingCheckpoint(dir: string): Promise<TrainingCheckpoint | null> {
  let folder = `${dir}/checkpoint`;
  if (!(await pathExists(`${folder}/state.json`))) {
    folder = `${dir}/checkpoint.old`;
    if (!(await pathExists(`${folder}/state.json`))) return null;
  }
  const fail = (problem: string): never => {
    throw new Error(`Cannot read training checkpoint "${folder}": ${problem}`);
  };
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await Deno.readTextFile(`${folder}/state.json`));
  } catch {
    return fail("state.json is not valid JSON");
  }
  if (json.format !== TRAINING_CHECKPOINT_FORMAT) {
    fail(`state.json format is not "${TRAINING_CHECKPOINT_FORMAT}"`);
  }
  for (const key of ["step", "epoch", "batchInEpoch", "adamStep"]) {
    if (!Number.isSafeInteger(json[key]) || (json[key] as number) < 0) {
      fail(`${key} is not a count`);
    }
  }
  if (!Array.isArray(json.variables)) fail("variables is not a list");
  const tensors = await readSafetensors(`${folder}/state.safetensors`);
  const variables = new Map<string, { shape: number[]; data: Float32Array }>();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const name of json.variables as string[]) {
    const value = tensors.get(`variable/${name}`);
    const m = tensors.get(`adam_m/${name}`);
    const v = tensors.get(`adam_v/${name}`);
    if (!value || !m || !v) return fail(`state.safetensors lacks tensors of "${name}"`);
    variables.set(name, value);
    moments.set(name, { m: m.data, v: v.data });
  }
  return {
    step: json.step as number,
    epoch: json.epoch as number,
    batchInEpoch: json.batchInEpoch as number,
    seed: (json.seed ?? null) as number | null,
    options: (json.options ?? {}) as Record<string, unknown>,
    variables,
    optimizer: { step: json.adamStep as number, moments },
  };
}
