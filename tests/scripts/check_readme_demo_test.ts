/**
 * The README's demo block against the demo's printed summary (scripts/check_readme_demo.ts, run by
 * .ci/run on the demo's real output): the comparison itself, and the README's block being there
 * in the form the demo prints.
 */
import { ok, strictEqual as assertEquals } from "node:assert/strict";
import { compareDemoQuote, demoSummary, readmeDemoBlock } from "../../scripts/check_readme_demo.ts";

const printed = [
  "",
  "mopeft demo: Mixture of PEFTs (gated LoRA + prefix + adapter) on a small SAM-shaped model",
  "  test mIoU   before training 16.1%  ->  after 300 steps 77.5%",
  "  detection   val AP50 before training 0.0%  ->  after 300 steps 21.0%, AR100 30.0%",
  "  files       run: .cache/demo/mopeft (peft.safetensors)",
  "  took 61 s",
  "",
].join("\n");
const readme = (lines: string[]) => ["# x", "", "```", ...lines, "```", "", "more"].join("\n");

Deno.test("compareDemoQuote: equal when the block is the summary up to the file list", () => {
  const summary = demoSummary(printed)!;
  assertEquals(summary.length, 3);
  assertEquals(compareDemoQuote(readme(summary), printed), null);
});

Deno.test("compareDemoQuote: a changed figure, a missing or an extra line, no block", () => {
  const summary = demoSummary(printed)!;
  const changed = summary.map((line) => line.replace("21.0%", "21.1%"));
  assertEquals(
    compareDemoQuote(readme(changed), printed),
    'line 3 of its demo block is "  detection   val AP50 before training 0.0%  ->  after 300 ' +
      'steps 21.1%, AR100 30.0%", the demo printed "  detection   val AP50 before training 0.0%' +
      '  ->  after 300 steps 21.0%, AR100 30.0%"',
  );
  ok(compareDemoQuote(readme(summary.slice(0, 2)), printed)!.includes("is nothing"));
  ok(compareDemoQuote(readme([...summary, "  took 61 s"]), printed)!.includes("printed nothing"));
  ok(compareDemoQuote("# no block\n", printed)!.startsWith("has no fenced block"));
  ok(compareDemoQuote(readme(summary), "demo: failed\n")!.includes("holds no line"));
});

Deno.test("the README has the demo block, in the demo's shape", async () => {
  const text = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const block = readmeDemoBlock(text);
  ok(block, "README.md has no fenced block starting with the demo's summary");
  ok(block.some((line) => /^ {2}detection {3}val AP50 .* AR100 /.test(line)), block.join("\n"));
  ok(!block.some((line) => line.startsWith("  files ") || line.startsWith("  took ")));
});
