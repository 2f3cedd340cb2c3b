/**
 * The option keys a study file may set for a cell's `train` and `eval` commands, with the check
 * each value must pass. The keys are the commands' own flag names (`lora-rank`, as in
 * `train --config`); `tests/study/option_keys_test.ts` checks every one against the commands'
 * real options, so this table cannot drift from the CLI unnoticed.
 *
 * @module
 */
import { BACKEND_NAMES } from "../backend/backend.ts";

/** How a value is checked. */
export type OptionKind =
  | "positiveInteger"
  | "nonNegativeInteger"
  | "positiveNumber"
  | "nonNegativeNumber"
  | "openFraction"
  | "fractionBelowOne"
  | "string"
  | "boolean"
  | readonly string[];

/** The keys of `train` a study (or a method entry) may set. */
export const TRAIN_KEYS: Readonly<Record<string, OptionKind>> = {
  "split": "string",
  "holdout": "openFraction",
  "skip-bad": "boolean",
  "epochs": "positiveInteger",
  "steps": "nonNegativeInteger",
  "batch-size": "positiveInteger",
  "lr": "positiveNumber",
  "lr-schedule": ["constant", "cosine"],
  "warmup-steps": "nonNegativeInteger",
  "weight-decay": "nonNegativeNumber",
  "val-split": "string",
  "val-every": "positiveInteger",
  "save-every": "positiveInteger",
  "log-every": "positiveInteger",
  "micro-batch": "positiveInteger",
  "cache-memory": "positiveInteger",
  "lora-rank": "positiveInteger",
  "lora-alpha": "positiveNumber",
  "prefix-length": "positiveInteger",
  "prefix-hidden": "positiveInteger",
  "adapter-dim": "positiveInteger",
  "adapter-kind": ["plain", "mosa"],
  "mosa-parts": "positiveInteger",
  "mosa-share": ["down", "up", "none"],
  "mosa-consistency": "nonNegativeNumber",
  "gate-threshold": "openFraction",
  "tile-keep": "fractionBelowOne",
  "backend": BACKEND_NAMES,
};

/** The keys of `eval` a study may set (its hold-out and seed come from the training run). */
export const EVAL_KEYS: Readonly<Record<string, OptionKind>> = {
  "split": "string",
  "overlap": "nonNegativeInteger",
  "batch-size": "positiveInteger",
  "skip-bad": "boolean",
  "backend": BACKEND_NAMES,
};

/** Flags the study sets itself for every cell; a study file naming one is told why not. */
export const STUDY_OWNED_KEYS: readonly string[] = [
  "checkpoint",
  "out",
  "data",
  "dataset",
  "root",
  "variant",
  "method",
  "seed",
  "peft",
  "resume",
  "force",
  "config",
  "quiet",
  "verbose",
  "svg",
  "shard",
];

/**
 * Checks `value` against `kind`; returns what is wrong, or `undefined` when it is fine.
 *
 * @example
 * ```ts
 * checkOptionValue("positiveInteger", 4); // undefined
 * checkOptionValue("positiveInteger", 0); // "expected a positive integer, got 0"
 * ```
 */
export function checkOptionValue(kind: OptionKind, value: unknown): string | undefined {
  const got = `got ${JSON.stringify(value)}`;
  const isNumber = typeof value === "number" && Number.isFinite(value);
  switch (kind) {
    case "positiveInteger":
      return isNumber && Number.isSafeInteger(value) && value > 0
        ? undefined
        : `expected a positive integer, ${got}`;
    case "nonNegativeInteger":
      return isNumber && Number.isSafeInteger(value) && value >= 0
        ? undefined
        : `expected a non-negative integer, ${got}`;
    case "positiveNumber":
      return isNumber && value > 0 ? undefined : `expected a positive number, ${got}`;
    case "nonNegativeNumber":
      return isNumber && value >= 0 ? undefined : `expected a non-negative number, ${got}`;
    case "openFraction":
      return isNumber && value > 0 && value < 1
        ? undefined
        : `expected a number between 0 and 1, ${got}`;
    case "fractionBelowOne":
      return isNumber && value >= 0 && value < 1
        ? undefined
        : `expected a number from 0 up to (not including) 1, ${got}`;
    case "string":
      return typeof value === "string" && value.length > 0
        ? undefined
        : `expected a non-empty string, ${got}`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `expected true or false, ${got}`;
    default:
      return typeof value === "string" && kind.includes(value)
        ? undefined
        : `expected one of ${kind.join(", ")}, ${got}`;
  }
}

/**
 * Turns option values into command-line flags: `{"lora-rank": 4, "skip-bad": true}` becomes
 * `--lora-rank 4 --skip-bad` (a `false` flag is left out).
 *
 * @example
 * ```ts
 * optionFlags({ "lora-rank": 4, "skip-bad": true, "lr": 0.0001 });
 * // ["--lora-rank", "4", "--skip-bad", "--lr", "0.0001"]
 * ```
 */
export function optionFlags(values: Readonly<Record<string, unknown>>): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === false || value === undefined) continue;
    flags.push(`--${key}`);
    if (value !== true) flags.push(String(value));
  }
  return flags;
}
