/**
 * A run's manifest (`peft.json`): what it holds, and building a run from it onto a loaded SAM
 * with every check (architecture, checkpoint fingerprint, classes, head). Plain TypeScript: the
 * files are read by `run_files.ts` in Deno and fetched by the web page.
 *
 * @module
 */
import { type HeadConfig, validateHeadConfig } from "../decoder/head.ts";
import type { SamArchitecture } from "../encoder/architecture.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { type PeftConfig, validatePeftConfig } from "./config.ts";
import type { MosaTrainingRules } from "./mosa.ts";
import { PeftModel, type TensorValues } from "./peft_model.ts";

/** The file names inside a run folder. */
export const PEFT_WEIGHTS_FILE = "peft.safetensors";
/** The manifest's file name. */
export const PEFT_MANIFEST_FILE = "peft.json";

/** What identifies the SAM checkpoint a run builds on. */
export interface BaseFingerprint {
  /** Lowercase hex SHA-256 of the checkpoint file (see `lib/io/fingerprint.ts`). */
  sha256: string;
  architecture: SamArchitecture;
  /** The checkpoint's path, for messages (not compared). */
  file?: string;
}

/** The content of `peft.json`. */
export interface PeftManifest {
  format: "mopeft-peft";
  version: 1;
  method: PeftConfig["method"];
  /** Every hyperparameter (MoSA runs keep adapterKind "mosa" and the mosa* settings). */
  config: PeftConfig;
  /**
   * How a MoSA run was trained (expert copies, their draws, the merge, the consistency term).
   * Absent in runs written before MoSA trained expert copies (those masked the gradients of one
   * plain adapter); they load all the same, as the plain adapter they hold.
   */
  mosa?: MosaTrainingRules;
  classNames: string[];
  seed: number;
  baseCheckpoint: BaseFingerprint;
  /** The head and its task; absent in runs made before detection existed (semantic). */
  head?: HeadConfig;
}

/**
 * Builds a run from its manifest's text (`peft.json`) onto `baseWeights`, with the checks of
 * {@link loadPeftRun} and its messages (`Cannot load PEFT run "<dir>": <why>`); `readTensors`
 * gives the run's `peft.safetensors` once the manifest has passed them.
 *
 * @example
 * ```ts ignore
 * const { model } = await peftRunFromManifest("run", manifestText, sam, fingerprint, () => tensors);
 * ```
 */
export async function peftRunFromManifest(
  dir: string,
  text: string,
  baseWeights: ModelWeights,
  baseFingerprint: BaseFingerprint,
  readTensors: () => Promise<TensorValues>,
): Promise<{ model: PeftModel; manifest: PeftManifest }> {
  const fail = (why: string): never => {
    throw new Error(`Cannot load PEFT run "${dir}": ${why}`);
  };
  let manifest: PeftManifest;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    return fail(`${PEFT_MANIFEST_FILE} is not JSON (${(error as Error).message})`);
  }
  if (manifest?.format !== "mopeft-peft" || manifest.version !== 1) {
    return fail(`${PEFT_MANIFEST_FILE} is not a mopeft PEFT manifest (version 1)`);
  }
  let config: PeftConfig;
  try {
    config = validatePeftConfig(manifest.config);
  } catch (error) {
    return fail(`${PEFT_MANIFEST_FILE}: ${(error as Error).message}`);
  }
  let head: HeadConfig;
  try {
    head = validateHeadConfig(manifest.head);
  } catch (error) {
    return fail(`${PEFT_MANIFEST_FILE}: ${(error as Error).message}`);
  }
  const checkpoint = baseFingerprint.file ? `"${baseFingerprint.file}"` : "the given checkpoint";
  const trained = manifest.baseCheckpoint;
  if (!sameArchitecture(trained?.architecture, baseFingerprint.architecture)) {
    fail(
      `it was trained on a SAM of ${describeArchitecture(trained?.architecture)} but ` +
        `${checkpoint} is ${describeArchitecture(baseFingerprint.architecture)}`,
    );
  }
  if (trained.sha256 !== baseFingerprint.sha256) {
    fail(
      `it was trained on checkpoint sha256 ${short(trained.sha256)} but ${checkpoint} has ` +
        `${short(baseFingerprint.sha256)}`,
    );
  }
  if (!sameArchitecture(baseWeights.architecture, baseFingerprint.architecture)) {
    fail(`the fingerprint's architecture does not match the loaded SAM weights`);
  }
  if (!Array.isArray(manifest.classNames) || manifest.classNames.length === 0) {
    fail(`${PEFT_MANIFEST_FILE} lists no class names`);
  }
  const tensors = await readTensors().catch((error) => fail((error as Error).message));
  try {
    const model = PeftModel.fromTensors(baseWeights, config, {
      numClasses: manifest.classNames.length,
      seed: manifest.seed ?? 0,
      head,
    }, tensors);
    return { model, manifest: { ...manifest, head } };
  } catch (error) {
    return fail(`${PEFT_WEIGHTS_FILE}: ${(error as Error).message}`);
  }
}

/** `ab12cd34ef56…`: enough of a hash to tell two apart in a message. */
function short(sha256: unknown): string {
  return typeof sha256 === "string" ? `${sha256.slice(0, 12)}…` : String(sha256);
}

/**
 * One line describing an architecture: `D 768, 12 blocks, 12 heads, 1024 px, windows 14, global
 * blocks 2,5,8,11`.
 *
 * @example
 * ```ts
 * import { architectureOf, TINY_SIZE } from "../encoder/random_checkpoint.ts";
 * import { describeArchitecture } from "./run_manifest.ts";
 * describeArchitecture(architectureOf(TINY_SIZE)); // "D 32, 4 blocks, 2 heads, 128 px, windows 4, global blocks 1,3"
 * ```
 */
export function describeArchitecture(architecture: SamArchitecture | undefined): string {
  const e = architecture?.encoder;
  if (!e) return "unknown architecture";
  const windows = [...new Set(e.blockWindowSizes.filter((w) => w > 0))];
  const global = e.blockWindowSizes.flatMap((w, i) => (w === 0 ? [i] : []));
  return `D ${e.embedDim}, ${e.depth} blocks, ${e.numHeads} heads, ${e.imageSize} px, ` +
    `windows ${windows.join(",") || "none"}, global blocks ${global.join(",") || "none"}`;
}

function sameArchitecture(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted, so that key order does not matter. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)))
        : v,
  );
}
