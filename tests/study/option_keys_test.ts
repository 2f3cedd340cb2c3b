import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { Command } from "commander";
import { buildProgram } from "../../cli.ts";
import {
  checkOptionValue,
  EVAL_KEYS,
  optionFlags,
  TRAIN_KEYS,
} from "../../lib/study/option_keys.ts";

function optionNames(name: string): Map<string, Command["options"][number]> {
  const command = buildProgram().commands.find((c) => c.name() === name)!;
  return new Map(command.options.map((o) => [o.long!.slice(2), o]));
}

Deno.test("every study option key is a real option of train / eval, with the same choices", () => {
  for (const [name, keys] of [["train", TRAIN_KEYS], ["eval", EVAL_KEYS]] as const) {
    const options = optionNames(name);
    for (const [key, kind] of Object.entries(keys)) {
      const option = options.get(key);
      ok(option, `${name} has no --${key}`);
      if (Array.isArray(kind)) assertEquals(option.argChoices, [...kind], key);
      assertEquals(option.isBoolean(), kind === "boolean", `--${key} takes a value?`);
    }
  }
});

Deno.test("study option values are checked as the flags check them", () => {
  assertEquals(checkOptionValue("positiveInteger", 3), undefined);
  assertEquals(checkOptionValue("positiveInteger", 2.5), "expected a positive integer, got 2.5");
  assertEquals(checkOptionValue("nonNegativeInteger", 0), undefined);
  assertEquals(checkOptionValue("openFraction", 1), "expected a number between 0 and 1, got 1");
  assertEquals(checkOptionValue("boolean", "yes"), 'expected true or false, got "yes"');
  assertEquals(checkOptionValue(["a", "b"], "c"), 'expected one of a, b, got "c"');
  assertEquals(optionFlags({ steps: 0, "skip-bad": false, "lr-schedule": "cosine" }), [
    "--steps",
    "0",
    "--lr-schedule",
    "cosine",
  ]);
});
