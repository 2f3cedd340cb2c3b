/**
 * What a training run's output folder holds, and its `run.json` (the settings a resume must
 * keep).
 *
 * @module
 */
import { pathExists } from "../io/path_exists.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { HeadConfig } from "../decoder/head.ts";
import type { PeftConfig } from "../peft/config.ts";
import { PEFT_MANIFEST_FILE, PEFT_WEIGHTS_FILE } from "../peft/run_files.ts";

/** The run folder's files. */
export const RUN_SETTINGS_FILE = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const CHECKPOINT_FOLDER = "checkpoint";
/** Decoder-only training's image embeddings past the memory limit (lib/train/embedding_cache.ts). */
export const CACHE_FOLDER = "cache";

/** The settings a run was started with; a resume must use the same. */
export interface RunSettings {
  format: "mopeft-run";
  version: 1;
  peft: PeftConfig;
  seed: number;
  batchSize: number;
  learningRate: number;
  lrSchedule: "constant" | "cosine";
  warmupSteps: number;
  weightDecay: number;
  epochs: number | null;
  maxSteps: number | null;
  /**
   * Tiles per pass of the model at the latest start (a memory setting: steps equal one batch
   * either way, and a resumed run chooses it afresh); absent in runs from before micro-batching.
   */
  microBatch?: number;
  dataset: string;
  split: string;
  classNames: string[];
  baseCheckpointSha256: string;
  /** The head (and task); absent in runs made before detection existed (semantic). */
  head?: HeadConfig;
  /**
   * Detection: the fraction of a cut object's area a training tile must hold, strictly more, to
   * take it as it is (less: difficult, no loss); absent in semantic runs and older ones (0.7).
   */
  tileKeep?: number;
}

/** What is already in a folder a run would write to. */
export interface RunFolderState {
  exists: boolean;
  /** A finished (or saved) run: `peft.json` or `peft.safetensors`. */
  hasRun: boolean;
  /** A resumable checkpoint. */
  hasCheckpoint: boolean;
  hasSettings: boolean;
}

/** Looks at `dir` without changing it. */
export async function inspectRunFolder(dir: string): Promise<RunFolderState> {
  return {
    exists: await pathExists(dir),
    hasRun: await pathExists(`${dir}/${PEFT_MANIFEST_FILE}`) ||
      await pathExists(`${dir}/${PEFT_WEIGHTS_FILE}`),
    hasCheckpoint: await pathExists(`${dir}/${CHECKPOINT_FOLDER}/state.json`) ||
      await pathExists(`${dir}/${CHECKPOINT_FOLDER}.old/state.json`),
    hasSettings: await pathExists(`${dir}/${RUN_SETTINGS_FILE}`),
  };
}

/** Removes the files a run writes (for `--force`), leaving anything else in `dir` alone. */
export async function clearRunFolder(dir: string): Promise<void> {
  for (
    const name of [
      PEFT_MANIFEST_FILE,
      PEFT_WEIGHTS_FILE,
      RUN_SETTINGS_FILE,
      METRICS_FILE,
      CHECKPOINT_FOLDER,
      `${CHECKPOINT_FOLDER}.old`,
      CACHE_FOLDER,
    ]
  ) {
    await Deno.remove(`${dir}/${name}`, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Writes `run.json` atomically. */
export async function writeRunSettings(dir: string, settings: RunSettings): Promise<void> {
  await writeFileAtomic(`${dir}/${RUN_SETTINGS_FILE}`, JSON.stringify(settings, null, 2) + "\n");
}

/** Reads `run.json`; throws a one-line error naming the file when it is unreadable. */
export async function readRunSettings(dir: string): Promise<RunSettings> {
  const path = `${dir}/${RUN_SETTINGS_FILE}`;
  let parsed: RunSettings;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : "not valid JSON";
    throw new Error(`Cannot read run settings "${path}": ${why}`);
  }
  if (parsed?.format !== "mopeft-run") {
    throw new Error(`Cannot read run settings "${path}": not a mopeft run.json`);
  }
  return parsed;
}

/** Reads the metrics lines logged up to and including `step` (to continue after a resume). */
export async function readMetricsUpTo(dir: string, step: number): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${METRICS_FILE}`);
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => {
    if (!line.trim()) return false;
    try {
      return (JSON.parse(line) as { step: number }).step <= step;
    } catch {
      return false;
    }
  });
}
