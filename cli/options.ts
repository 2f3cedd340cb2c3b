/**
 * Parsing and checking option values. A bad value is a usage error (exit code 2) naming the
 * option and the value.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { UsageError } from "./io.ts";

/** Parses a positive integer (`--steps 100`). */
export function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(number) || number <= 0) {
    throw new InvalidArgumentError("expected a positive integer.");
  }
  return number;
}

/** Parses a non-negative integer (`--steps 0`, `--seed 0`). */
export function nonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(number)) {
    throw new InvalidArgumentError("expected a non-negative integer.");
  }
  return number;
}

/** Parses a positive number (`--lr 1e-4`). */
export function positiveNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number <= 0) {
    throw new InvalidArgumentError("expected a positive number.");
  }
  return number;
}

/** Parses a non-negative number (`--weight-decay 0`). */
export function nonNegativeNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number < 0) {
    throw new InvalidArgumentError("expected a non-negative number.");
  }
  return number;
}

/** Parses a fraction strictly between 0 and 1 (`--holdout 0.2`, `--gate-threshold 0.5`). */
export function openFraction(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !(number > 0 && number < 1)) {
    throw new InvalidArgumentError("expected a number between 0 and 1.");
  }
  return number;
}

/** Parses a fraction from 0 up to, not including, 1 (`--tile-keep 0.7`). */
export function fractionBelowOne(value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !(number >= 0 && number < 1)) {
    throw new InvalidArgumentError("expected a number from 0 up to (not including) 1.");
  }
  return number;
}

/** Parses `I/N` (`--shard 0/4`): shard I of N, 0 <= I < N. */
export function shardSpec(value: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !(count > 0) || index >= count) {
    throw new InvalidArgumentError("expected I/N with 0 <= I < N, e.g. 0/4.");
  }
  return { index, count };
}

/**
 * Fills options from a JSON config file whose keys are the command's option names (`lora-rank`
 * or `loraRank`). Values given on the command line win over the file's.
 */
export async function applyConfigFile(
  command: Command,
  options: Record<string, unknown>,
  path: string,
): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : "not valid JSON";
    throw new Error(`Cannot read config "${path}": ${why}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Cannot read config "${path}": expected a JSON object of option values`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    const option = command.options.find((o) => o.attributeName() === key || o.long === `--${key}`);
    if (!option || option.long === "--config") {
      throw new UsageError(`config "${path}" has an unknown key "${key}"`);
    }
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === "cli") continue;
    let parsedValue = value;
    if (option.parseArg && (typeof value === "string" || typeof value === "number")) {
      try {
        parsedValue = option.parseArg(String(value), undefined as unknown);
      } catch (error) {
        throw new UsageError(
          `config "${path}": key "${key}" value ${JSON.stringify(value)} is invalid: ${
            (error as Error).message
          }`,
        );
      }
    }
    if (option.argChoices && !option.argChoices.includes(String(parsedValue))) {
      throw new UsageError(
        `config "${path}": key "${key}" must be one of ${option.argChoices.join(", ")}`,
      );
    }
    options[name] = parsedValue;
  }
}

/** A comma-separated list of names (`--classes a,b,c`), spaces around each trimmed. */
export function nameList(value: string): string[] {
  const names = value.split(",").map((name) => name.trim());
  if (names.length === 0 || names.some((name) => name.length === 0)) {
    throw new InvalidArgumentError(`expected names separated by commas, got "${value}"`);
  }
  return names;
}
