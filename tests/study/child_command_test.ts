import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { runChild } from "../../lib/study/child_command.ts";

const sh = ["sh", "-c"];

Deno.test("a child's stdout is collected, its stderr passed on line by line", async () => {
  const lines: string[] = [];
  const result = await runChild(sh, [
    'echo "{\\"a\\": 1}"; echo one >&2; printf "two\\rthree\\n" >&2',
  ], (line) => lines.push(line));
  assertEquals([result.code, result.stdout, result.error], [0, '{"a": 1}\n', null]);
  assertEquals(lines, ["one", "two", "three"]);
});

Deno.test("a failing child's error is its last mopeft line; a killed one says so", async () => {
  const failed = await runChild(sh, [
    'echo "mopeft: training" >&2; echo "mopeft: Cannot read x" >&2; echo "  at" >&2; exit 1',
  ]);
  assertEquals([failed.code, failed.error], [1, "Cannot read x"]);
  // As in a study: the program, then the subcommand ("train" is the script's $0 here).
  const killed = await runChild([...sh, 'echo "mopeft: training" >&2; kill -9 $$'], ["train"]);
  assertEquals([killed.code, killed.error], [
    137,
    "train was killed by SIGKILL (out of memory, or killed by hand)",
  ]);
});
