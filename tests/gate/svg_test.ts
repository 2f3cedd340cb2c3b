/** The inspect-gates figure (thesis Figure 4.2) as SVG. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { gateReport } from "../../lib/gate/recorder.ts";
import { gateReportSvg } from "../../lib/gate/svg.ts";

/** Checks that every tag is closed in order; returns the element names in document order. */
function parseTags(svg: string): string[] {
  const names: string[] = [];
  const open: string[] = [];
  const body = svg.replace(/<!--[\s\S]*?-->/g, "");
  for (const match of body.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:"[^"]*"|[^>"])*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = match;
    if (closing) {
      const expected = open.pop();
      if (expected !== name) throw new SyntaxError(`</${name}> closes <${expected}>`);
    } else {
      names.push(name!);
      if (!selfClosing) open.push(name!);
    }
  }
  if (open.length > 0) throw new SyntaxError(`unclosed <${open.join(">, <")}>`);
  // Whatever is left between tags must be text without stray markup characters.
  const text = body.replace(/<[^>]*>/g, "");
  assert(!/[<>]/.test(text), "stray < or > in text");
  assert(!/&(?!(amp|lt|gt|quot|apos);)/.test(text), "unescaped & in text");
  return names;
}

const images = [
  { blocks: [{ lora: 0.9, prefix: 0.1, adapter: 0.2 }, { lora: 0.2, prefix: 0.7, adapter: 0.8 }] },
  { blocks: [{ lora: 0.8, prefix: 0.3, adapter: 0.6 }, { lora: 0.3, prefix: 0.9, adapter: 1 }] },
  { blocks: [{ lora: 0.4, prefix: 0.6, adapter: 0.1 }, { lora: 0.7, prefix: 0.2, adapter: 0.9 }] },
];

Deno.test("gateReportSvg() is well-formed standalone SVG with every method and block", () => {
  const report = gateReport(images, { threshold: 0.5 });
  const svg = gateReportSvg(report);
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const names = parseTags(svg);
  assertEquals(names[0], "svg");
  for (const kind of ["lora", "prefix", "adapter"]) {
    assert(svg.includes(`>${kind}</text>`), `no label for ${kind}`);
  }
  assertEquals(svg.match(/<g class="block" /g)?.length, 2);
  assert(svg.includes("3 images × 2 encoder blocks"));
  assert(svg.includes("exceeds 0.5"));
});

Deno.test("gateReportSvg() writes each total on its bar and uses one colour per method", () => {
  const report = gateReport(images, { threshold: 0.5 });
  const svg = gateReportSvg(report);
  // lora is called 3 times out of 3 images × 2 blocks = 6.
  assert(svg.includes(">3</text>") && svg.includes(">50%</text>"));
  assert(svg.includes("calls (of 3 × 2 = 6)"));
  for (const kind of report.modules) {
    const fills = new Set(
      [...svg.matchAll(new RegExp(`data-module="${kind}"[^>]*fill="(#[0-9A-Fa-f]{6})"`, "g"))]
        .map((match) => match[1]),
    );
    assertEquals(fills.size, 1, `${kind} drawn in ${[...fills].join(", ")}`);
  }
  const lora = svg.match(/data-module="lora"[^>]*fill="(#[0-9A-Fa-f]{6})"/)![1];
  const adapter = svg.match(/data-module="adapter"[^>]*fill="(#[0-9A-Fa-f]{6})"/)![1];
  assert(lora !== adapter);
});

Deno.test("gateReportSvg() escapes the title and handles an empty report", () => {
  const report = gateReport([], { threshold: 0.5 });
  const svg = gateReportSvg(report, { title: `MoPEFT <vit_b> & "co"` });
  parseTags(svg);
  assert(svg.includes("MoPEFT &lt;vit_b&gt; &amp; &quot;co&quot;"));
  assert(svg.includes("No gate values were recorded"));
  assert(!svg.includes("NaN") && !svg.includes("Infinity"));
});

Deno.test("gateReportSvg() labels fewer block indices when there are many blocks", () => {
  const deep = [{ blocks: Array.from({ length: 32 }, () => ({ adapter: 0.9 })) }];
  const svg = gateReportSvg(gateReport(deep, { threshold: 0.5 }));
  parseTags(svg);
  assertEquals(svg.match(/<g class="block" /g)?.length, 32);
  assert(!svg.includes("NaN"));
});
