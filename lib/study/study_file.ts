/**
 * Study files: a grid of experiments (datasets x methods x seeds) as one JSON document, checked
 * whole before anything runs.
 *
 * ```json
 * {"name": "thesis-table-4.4", "checkpoint": "sam_vit_b.safetensors", "root": "MESS",
 *  "datasets": ["kvasir_instrument", {"name": "my-set", "data": "path/to/folder"}],
 *  "train": {"split": "test", "holdout": 0.2, "epochs": 20},
 *  "eval": {"split": "test"},
 *  "methods": ["baseline", "decoder", {"name": "mopeft-r4", "method": "mopeft", "lora-rank": 4}],
 *  "seeds": [0]}
 * ```
 *
 * Relative paths resolve against the study file's folder. `baseline` is the untrained semantic
 * head (a zero-step `decoder` run).
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { findDataset, MESS_DATASETS } from "../data/registry.ts";
import { type PeftConfig, validatePeftConfig } from "../peft/config.ts";
import { isMethodName, METHOD_NAMES, type MethodName } from "../peft/registry.ts";
import {
  checkOptionValue,
  EVAL_KEYS,
  type OptionKind,
  STUDY_OWNED_KEYS,
  TRAIN_KEYS,
} from "./option_keys.ts";

/** The method name of the untrained semantic head (the thesis's "Baseline" column). */
export const BASELINE = "baseline";

/** A method a study entry can name: a registry method, or {@link BASELINE}. */
export type StudyMethodName = MethodName | typeof BASELINE;

/** One dataset of a study, its location resolved. */
export interface StudyDataset {
  /** The cell folder and report row name (a MESS id, or the entry's `name`). */
  name: string;
  /** A MESS registry id (with `root`), when the dataset is named that way. */
  dataset?: string;
  /** The MESS root for `dataset`, absolute. */
  root?: string;
  /** A dataset folder, absolute. */
  data?: string;
  /** A MESS variant (`irrg`, ...). */
  variant?: string;
  /** The report's row group; MESS datasets default to their MESS domain. */
  domain?: string;
}

/** One method column of a study. */
export interface StudyMethod {
  /** The cell folder and report column name. */
  name: string;
  method: StudyMethodName;
  /** Train options this entry sets over the study's `train`. */
  train: Record<string, unknown>;
}

/** A checked study, every path absolute. */
export interface Study {
  name: string;
  description?: string;
  /** The SAM checkpoint, absolute. */
  checkpoint: string;
  datasets: StudyDataset[];
  methods: StudyMethod[];
  seeds: number[];
  /** Train options of every cell (the keys of `train --config`). */
  train: Record<string, unknown>;
  /** Eval options of every cell. */
  eval: Record<string, unknown>;
}

/** Values given on the command line that win over the file's (resolved against the cwd). */
export interface StudyOverrides {
  checkpoint?: string;
  root?: string;
}

const TOP_KEYS = [
  "name",
  "description",
  "checkpoint",
  "root",
  "datasets",
  "train",
  "eval",
  "methods",
  "seeds",
];
const DATASET_KEYS = ["name", "data", "dataset", "variant", "domain"];
/** Names become folder names and report labels: keep them to safe characters. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** A mistake in a study file; its message is one line naming the file and the entry. */
export class StudyFileError extends Error {
  override name = "StudyFileError";
}

/**
 * Checks the parsed JSON of a study file and resolves its paths against `path`'s folder (the
 * overrides against the working directory). Throws a {@link StudyFileError} naming the entry.
 *
 * @example
 * ```ts
 * const study = parseStudy({
 *   name: "demo", checkpoint: "sam.safetensors",
 *   datasets: [{ name: "mine", data: "data/mine" }], methods: ["baseline", "lora"],
 * }, "/studies/demo.json");
 * study.checkpoint; // "/studies/sam.safetensors"
 * study.seeds; // [0]
 * ```
 */
export function parseStudy(value: unknown, path: string, overrides: StudyOverrides = {}): Study {
  const fail = (message: string): never => {
    throw new StudyFileError(`Cannot use study "${path}": ${message}`);
  };
  const base = dirname(resolve(path));
  const at = (p: string) => isAbsolute(p) ? p : resolve(base, p);
  if (!isPlainObject(value)) return fail("expected a JSON object");
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.includes(key)) fail(`unknown key "${key}" (known: ${TOP_KEYS.join(", ")})`);
  }
  const name = value.name;
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    fail(`"name" must be a name of letters, digits and ._+- (got ${JSON.stringify(name)})`);
  }
  if (value.description !== undefined && typeof value.description !== "string") {
    fail(`"description" must be a string`);
  }
  const checkpointValue = overrides.checkpoint ?? value.checkpoint;
  if (typeof checkpointValue !== "string" || checkpointValue === "") {
    fail(`"checkpoint" must name a SAM checkpoint (or pass --checkpoint)`);
  }
  const checkpoint = overrides.checkpoint !== undefined
    ? resolve(overrides.checkpoint)
    : at(checkpointValue as string);
  if (value.root !== undefined && (typeof value.root !== "string" || value.root === "")) {
    fail(`"root" must be a folder path`);
  }
  const root = overrides.root !== undefined
    ? resolve(overrides.root)
    : value.root !== undefined
    ? at(value.root as string)
    : undefined;

  const train = checkOptions(value.train ?? {}, TRAIN_KEYS, "train", fail);
  const evalOptions = checkOptions(value.eval ?? {}, EVAL_KEYS, "eval", fail);

  if (!Array.isArray(value.datasets) || value.datasets.length === 0) {
    fail(`"datasets" must be a non-empty array`);
  }
  const datasets = (value.datasets as unknown[]).map((entry, i) =>
    parseDataset(entry, `datasets[${i}]`, root, at, fail)
  );
  unique(datasets.map((d) => d.name), "datasets", fail);

  if (!Array.isArray(value.methods) || value.methods.length === 0) {
    fail(`"methods" must be a non-empty array`);
  }
  const methods = (value.methods as unknown[]).map((entry, i) =>
    parseMethod(entry, `methods[${i}]`, train, fail)
  );
  unique(methods.map((m) => m.name), "methods", fail);

  const seeds = value.seeds ?? [0];
  if (
    !Array.isArray(seeds) || seeds.length === 0 ||
    !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)
  ) {
    fail(`"seeds" must be a non-empty array of non-negative integers`);
  }
  unique((seeds as number[]).map(String), "seeds", fail);

  for (const method of methods) {
    const options = { ...train, ...method.train };
    if (
      options.holdout !== undefined && evalOptions.split !== undefined &&
      evalOptions.split !== options.split
    ) {
      fail(
        `eval.split "${evalOptions.split}" cannot apply to method "${method.name}": with a ` +
          `holdout, cells are scored on the held-out part of their training split ` +
          `(leave eval.split out, or make it train.split)`,
      );
    }
  }
  const study: Study = {
    name: name as string,
    checkpoint,
    datasets,
    methods,
    seeds: seeds as number[],
    train,
    eval: evalOptions,
  };
  if (value.description !== undefined) study.description = value.description as string;
  return study;
}

/** The train options of one method's cells: the study's, then the entry's own over them. */
export function methodTrainOptions(study: Study, method: StudyMethod): Record<string, unknown> {
  return { ...study.train, ...method.train };
}

/**
 * The PEFT configuration a method entry trains with its options (`decoder`'s for the baseline).
 * Throws a `RangeError` for a bad combination.
 *
 * @example
 * ```ts
 * peftConfigOf("mopeft", { "lora-rank": 16 }).loraRank; // 16
 * ```
 */
export function peftConfigOf(
  method: StudyMethodName,
  options: Readonly<Record<string, unknown>>,
): PeftConfig {
  return validatePeftConfig({
    method: method === BASELINE ? "decoder" : method,
    loraRank: options["lora-rank"] as number | undefined,
    loraAlpha: options["lora-alpha"] as number | undefined,
    prefixLength: options["prefix-length"] as number | undefined,
    prefixHidden: options["prefix-hidden"] as number | undefined,
    adapterDim: options["adapter-dim"] as number | undefined,
    adapterKind: options["adapter-kind"] as "plain" | "mosa" | undefined,
    mosaParts: options["mosa-parts"] as number | undefined,
    gateThreshold: options["gate-threshold"] as number | undefined,
  });
}

function parseDataset(
  entry: unknown,
  where: string,
  root: string | undefined,
  at: (p: string) => string,
  fail: (message: string) => never,
): StudyDataset {
  const needRoot = (id: string) => {
    if (root === undefined) {
      fail(`${where}: MESS dataset "${id}" needs "root" in the study (or --root)`);
    }
    return root as string;
  };
  const known = () => MESS_DATASETS.map((d) => d.id).join(", ");
  if (typeof entry === "string") {
    if (!findDataset(entry)) fail(`${where}: unknown dataset id "${entry}" (known: ${known()})`);
    return { name: entry, dataset: entry, root: needRoot(entry) };
  }
  if (!isPlainObject(entry)) {
    return fail(`${where}: expected a MESS dataset id or {"name", "data"}`);
  }
  for (const key of Object.keys(entry)) {
    if (!DATASET_KEYS.includes(key)) {
      fail(`${where}: unknown key "${key}" (known: ${DATASET_KEYS.join(", ")})`);
    }
  }
  for (const key of ["name", "data", "dataset", "variant", "domain"]) {
    if (entry[key] !== undefined && (typeof entry[key] !== "string" || entry[key] === "")) {
      fail(`${where}: "${key}" must be a non-empty string`);
    }
  }
  const { data, dataset } = entry as Record<string, string | undefined>;
  if ((data === undefined) === (dataset === undefined)) {
    fail(`${where}: give either "data" (a folder) or "dataset" (a MESS id)`);
  }
  const name = (entry.name as string | undefined) ?? dataset;
  if (name === undefined) fail(`${where}: a "data" entry needs a "name"`);
  if (!NAME_PATTERN.test(name as string)) {
    fail(`${where}: name "${name}" must be letters, digits and ._+-`);
  }
  const result: StudyDataset = { name: name as string };
  if (dataset !== undefined) {
    if (!findDataset(dataset)) {
      fail(`${where}: unknown dataset id "${dataset}" (known: ${known()})`);
    }
    result.dataset = dataset;
    result.root = needRoot(dataset);
  } else {
    result.data = at(data as string);
  }
  if (entry.variant !== undefined) result.variant = entry.variant as string;
  if (entry.domain !== undefined) result.domain = entry.domain as string;
  return result;
}

function parseMethod(
  entry: unknown,
  where: string,
  studyTrain: Record<string, unknown>,
  fail: (message: string) => never,
): StudyMethod {
  const known = [BASELINE, ...METHOD_NAMES].join(", ");
  let method: StudyMethod;
  if (typeof entry === "string") {
    method = { name: entry, method: entry as StudyMethodName, train: {} };
  } else if (isPlainObject(entry)) {
    const { name, method: methodName, ...rest } = entry;
    if (typeof methodName !== "string") fail(`${where}: needs "method" (one of ${known})`);
    const label = name ?? methodName;
    if (typeof label !== "string") fail(`${where}: "name" must be a string`);
    method = {
      name: label as string,
      method: methodName as StudyMethodName,
      train: checkOptions(rest, TRAIN_KEYS, `${where} ("${label}")`, fail),
    };
  } else {
    return fail(`${where}: expected a method name or {"name", "method", ...options}`);
  }
  if (method.method !== BASELINE && !isMethodName(method.method)) {
    fail(`${where}: unknown method "${method.method}" (known: ${known})`);
  }
  if (!NAME_PATTERN.test(method.name)) {
    fail(`${where}: name "${method.name}" must be letters, digits and ._+-`);
  }
  const options = { ...studyTrain, ...method.train };
  try {
    peftConfigOf(method.method, options);
  } catch (error) {
    fail(`${where} ("${method.name}"): ${(error as Error).message}`);
  }
  if (options["val-every"] !== undefined && options["val-split"] === undefined) {
    if (options.holdout === undefined) {
      fail(`${where} ("${method.name}"): "val-every" needs "val-split" or "holdout"`);
    }
  }
  return method;
}

function checkOptions(
  value: unknown,
  keys: Readonly<Record<string, OptionKind>>,
  where: string,
  fail: (message: string) => never,
): Record<string, unknown> {
  if (!isPlainObject(value)) return fail(`"${where}" must be a JSON object of option values`);
  const out: Record<string, unknown> = {};
  for (const [key, optionValue] of Object.entries(value)) {
    if (STUDY_OWNED_KEYS.includes(key)) {
      fail(`${where}: "${key}" is set by the study for each cell, not in its options`);
    }
    const kind = keys[key];
    if (kind === undefined) {
      fail(`${where}: unknown option "${key}" (known: ${Object.keys(keys).join(", ")})`);
    }
    const problem = checkOptionValue(kind as OptionKind, optionValue);
    if (problem) fail(`${where}: "${key}" ${problem}`);
    out[key] = optionValue;
  }
  return out;
}

function unique(names: string[], where: string, fail: (message: string) => never): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) fail(`${where}: "${name}" appears twice`);
    seen.add(name);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
