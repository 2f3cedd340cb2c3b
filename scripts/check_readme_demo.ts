/**
 * Checks that the README quotes the demo's summary exactly: the fenced block of README.md that
 * starts with the demo's first summary line ("mopeft demo: ...") must equal the summary the demo
 * printed, from that line up to the file list (the lines after it name paths and the time taken,
 * which vary). `.ci/run` captures the demo's stdout and runs this on it.
 *
 *     deno run --allow-read scripts/check_readme_demo.ts DEMO_STDOUT [README.md]
 *
 * Exits 1 with a one-line message naming the first line that differs.
 *
 * @module
 */

/** The first line of the demo's summary. */
export const SUMMARY_START = "mopeft demo:";
/** The first line after the quoted part (file paths, then the time taken). */
export const SUMMARY_END = "  files ";

/**
 * The quoted part of the demo's summary in its stdout: from the "mopeft demo:" line up to, not
 * including, the "  files" line; `null` when the output holds no summary.
 *
 * @example
 * ```ts
 * import { demoSummary } from "./check_readme_demo.ts";
 * demoSummary("noise\nmopeft demo: x\n  test mIoU 1%\n  files  a\n  took 3 s\n");
 * // ["mopeft demo: x", "  test mIoU 1%"]
 * ```
 */
export function demoSummary(stdout: string): string[] | null {
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => line.startsWith(SUMMARY_START));
  if (start < 0) return null;
  const end = lines.findIndex((line, i) => i > start && line.startsWith(SUMMARY_END));
  return lines.slice(start, end < 0 ? lines.length : end);
}

/**
 * The lines of the README's fenced block that starts with the demo's summary; `null` without one.
 *
 * @example
 * ```ts
 * import { readmeDemoBlock } from "./check_readme_demo.ts";
 * const fence = "`".repeat(3);
 * readmeDemoBlock(`text\n${fence}\nmopeft demo: x\n  a\n${fence}\n`); // ["mopeft demo: x", "  a"]
 * ```
 */
export function readmeDemoBlock(readme: string): string[] | null {
  const lines = readme.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith("```") || !lines[i + 1]!.startsWith(SUMMARY_START)) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"));
    if (end < 0) return null;
    return lines.slice(i + 1, end);
  }
  return null;
}

/**
 * What is wrong with the README's quote of the demo's output, or `null` when it is exact.
 *
 * @example
 * ```ts
 * import { compareDemoQuote } from "./check_readme_demo.ts";
 * const fence = "`".repeat(3);
 * compareDemoQuote(`${fence}\nmopeft demo: x\n${fence}\n`, "mopeft demo: x\n  files  a\n"); // null
 * ```
 */
export function compareDemoQuote(readme: string, stdout: string): string | null {
  const quoted = readmeDemoBlock(readme);
  if (!quoted) return `has no fenced block starting with "${SUMMARY_START}"`;
  const printed = demoSummary(stdout);
  if (!printed) return `the demo's output holds no line starting with "${SUMMARY_START}"`;
  for (let i = 0; i < Math.max(quoted.length, printed.length); i++) {
    if (quoted[i] === printed[i]) continue;
    const show = (line: string | undefined) =>
      line === undefined ? "nothing" : JSON.stringify(line);
    return `line ${i + 1} of its demo block is ${show(quoted[i])}, the demo printed ${
      show(printed[i])
    }`;
  }
  return null;
}

if (import.meta.main) {
  const [outputPath, readmePath = new URL("../README.md", import.meta.url).pathname] = Deno.args;
  if (!outputPath) {
    console.error("usage: check_readme_demo.ts DEMO_STDOUT [README.md]");
    Deno.exit(2);
  }
  const problem = compareDemoQuote(
    await Deno.readTextFile(readmePath),
    await Deno.readTextFile(outputPath),
  );
  if (problem) {
    console.error(`${readmePath}: ${problem} (update the README's demo block)`);
    Deno.exit(1);
  }
  console.error(`${readmePath}: the demo block is what the demo printed`);
}
