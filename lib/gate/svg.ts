/**
 * The `inspect-gates` report drawn as the thesis's Figure 4.2: how often each PEFT module is
 * called, in total and per encoder block. Pure string building, no dependencies.
 *
 * @module
 */
import type { ModuleKind } from "../peft/registry.ts";
import type { GateReport } from "./recorder.ts";

/**
 * One colour per module, the same in every figure, from the Okabe-Ito palette (distinguishable
 * with the common colour-vision deficiencies).
 */
const MODULE_COLORS: Record<ModuleKind, string> = {
  lora: "#0072B2", // blue
  prefix: "#E69F00", // orange
  adapter: "#009E73", // bluish green
  vpt: "#CC79A7", // reddish purple
};
/** For modules added to the registry later: the rest of the palette, in order. */
const SPARE_COLORS = ["#D55E00", "#56B4E9", "#F0E442", "#000000"];

const WIDTH = 960;
const HEIGHT = 462;
const PLOT_TOP = 126;
const PLOT_BOTTOM = 382;
const LEFT_PLOT_X = 82;
const PANEL_GAP = 110;
const RIGHT_MARGIN = 24;
const TEXT = "#222222";
const MUTED = "#555555";
const GRID = "#e3e3e3";
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** Options of {@link gateReportSvg}. */
export interface GateReportSvgOptions {
  /** The figure's heading; defaults to "How often each PEFT module is called". */
  title?: string;
}

/**
 * Draws `report` as a standalone SVG: on the left one bar per module with its calls over every
 * image and block, on the right the calls per encoder block, grouped by module.
 *
 * @example
 * ```ts
 * import { gateReport } from "./recorder.ts";
 * const report = gateReport([{ blocks: [{ lora: 0.9, adapter: 0.2 }] }], { threshold: 0.5 });
 * const svg = gateReportSvg(report, { title: "MoPEFT on ADE20K" });
 * svg.startsWith("<svg"); // true
 * ```
 */
export function gateReportSvg(report: GateReport, options: GateReportSvgOptions = {}): string {
  const title = options.title ?? "How often each PEFT module is called";
  const blocks = report.blocks.length;
  const colors = moduleColors(report.modules);
  const leftPlotWidth = Math.max(160, 78 * report.modules.length);
  const rightPlotX = LEFT_PLOT_X + leftPlotWidth + PANEL_GAP;
  const rightPlotWidth = WIDTH - RIGHT_MARGIN - rightPlotX;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
    `viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(24, 32, title, { size: 19, weight: "bold" }),
    text(24, 56, subtitle(report), { size: 13, fill: MUTED }),
    totalsPanel(report, colors, LEFT_PLOT_X, leftPlotWidth),
    perBlockPanel(report, colors, rightPlotX, rightPlotWidth),
  ];
  if (report.modules.length === 0 || blocks === 0) {
    parts.push(
      text(
        rightPlotX + rightPlotWidth / 2,
        (PLOT_TOP + PLOT_BOTTOM) / 2,
        "No gate values were recorded",
        {
          size: 15,
          fill: MUTED,
          anchor: "middle",
        },
      ),
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function subtitle(report: GateReport): string {
  const blocks = report.blocks.length;
  return `${plural(report.images, "image")} × ${plural(blocks, "encoder block")}; ` +
    `a module is called when its gate exceeds ${report.threshold}`;
}

/** Left panel: total calls per module out of images × blocks, the value written on each bar. */
function totalsPanel(
  report: GateReport,
  colors: Map<ModuleKind, string>,
  plotX: number,
  plotWidth: number,
): string {
  const possible = report.images * report.blocks.length;
  const axisMax = Math.max(1, possible);
  const y = (value: number) => PLOT_BOTTOM - (value / axisMax) * (PLOT_BOTTOM - PLOT_TOP);
  const out: string[] = [
    `<g class="totals">`,
    text(plotX, PLOT_TOP - 40, "Total calls", { size: 15, weight: "bold" }),
    yAxis(plotX, plotWidth, axisMax, y),
    axisTitleY(
      plotX - 56,
      `calls (of ${formatCount(report.images)} × ${report.blocks.length} = ${
        formatCount(possible)
      })`,
    ),
  ];
  const slot = plotWidth / Math.max(1, report.modules.length);
  const barWidth = Math.min(56, slot * 0.62);
  for (const [index, kind] of report.modules.entries()) {
    const calls = report.calls[kind] ?? 0;
    const centre = plotX + slot * (index + 0.5);
    const top = y(calls);
    const share = possible > 0 ? `${Math.round((100 * calls) / possible)}%` : "–";
    out.push(
      `<rect class="bar" data-module="${escapeXml(kind)}" x="${fmt(centre - barWidth / 2)}" ` +
        `y="${fmt(top)}" width="${fmt(barWidth)}" height="${fmt(PLOT_BOTTOM - top)}" ` +
        `fill="${colors.get(kind)}"><title>${escapeXml(kind)}: ${formatCount(calls)} of ${
          formatCount(possible)
        } calls</title></rect>`,
      // The value sits just above its bar; the axis keeps head room for it at 100%.
      text(centre, top - 20, formatCount(calls), {
        size: 13,
        weight: "bold",
        anchor: "middle",
        halo: true,
      }),
      text(centre, top - 6, share, { size: 11, fill: MUTED, anchor: "middle", halo: true }),
      // Coloured names under the bars double as the legend for the right panel.
      swatch(centre, PLOT_BOTTOM + 20, kind, colors, "middle"),
    );
  }
  out.push(baseline(plotX, plotWidth), "</g>");
  return out.join("\n");
}

/** Right panel: calls per block (0..images), one bar per module in each block's group. */
function perBlockPanel(
  report: GateReport,
  colors: Map<ModuleKind, string>,
  plotX: number,
  plotWidth: number,
): string {
  const axisMax = Math.max(1, report.images);
  const y = (value: number) => PLOT_BOTTOM - (value / axisMax) * (PLOT_BOTTOM - PLOT_TOP);
  const out: string[] = [
    `<g class="per-block">`,
    text(plotX, PLOT_TOP - 40, "Calls per block", { size: 15, weight: "bold" }),
    legend(report.modules, colors, plotX + plotWidth, PLOT_TOP - 40),
    yAxis(plotX, plotWidth, axisMax, y),
    axisTitleY(plotX - 56, `calls (of ${plural(report.images, "image")})`),
    text(plotX + plotWidth / 2, PLOT_BOTTOM + 52, "encoder block", {
      size: 13,
      fill: MUTED,
      anchor: "middle",
    }),
  ];
  const blocks = report.blocks.length;
  const groupWidth = plotWidth / Math.max(1, blocks);
  const barWidth = (groupWidth * 0.8) / Math.max(1, report.modules.length);
  // Label every block when there is room, else every second or fourth (vit_h has 32 blocks).
  const labelEvery = [1, 2, 4, 8].find((step) => groupWidth * step >= 22) ?? 8;
  for (const entry of report.blocks) {
    const groupX = plotX + groupWidth * entry.block;
    out.push(`<g class="block" data-block="${entry.block}">`);
    for (const [index, kind] of report.modules.entries()) {
      const calls = entry.gates[kind]?.calls;
      if (calls === undefined) continue;
      const top = y(calls);
      out.push(
        `<rect data-module="${escapeXml(kind)}" x="${
          fmt(groupX + groupWidth * 0.1 + barWidth * index)
        }" y="${fmt(top)}" width="${fmt(barWidth)}" height="${fmt(PLOT_BOTTOM - top)}" ` +
          `fill="${colors.get(kind)}"><title>block ${entry.block}, ${escapeXml(kind)}: ${
            formatCount(calls)
          } of ${formatCount(report.images)}</title></rect>`,
      );
    }
    if (entry.block % labelEvery === 0) {
      out.push(
        text(groupX + groupWidth / 2, PLOT_BOTTOM + 18, String(entry.block), {
          size: 12,
          fill: MUTED,
          anchor: "middle",
        }),
      );
    }
    out.push("</g>");
  }
  out.push(baseline(plotX, plotWidth), "</g>");
  return out.join("\n");
}

/** Horizontal gridlines with tick labels at round values, and always one at the maximum. */
function yAxis(
  plotX: number,
  plotWidth: number,
  axisMax: number,
  y: (value: number) => number,
): string {
  const ticks = axisTicks(axisMax);
  return ticks.map((value) =>
    `<line x1="${fmt(plotX)}" x2="${fmt(plotX + plotWidth)}" y1="${fmt(y(value))}" ` +
    `y2="${fmt(y(value))}" stroke="${GRID}" stroke-width="1"/>\n` +
    text(plotX - 8, y(value) + 4, formatCount(value), { size: 11, fill: MUTED, anchor: "end" })
  ).join("\n");
}

function baseline(plotX: number, plotWidth: number): string {
  return `<line x1="${fmt(plotX)}" x2="${fmt(plotX + plotWidth)}" y1="${PLOT_BOTTOM}" ` +
    `y2="${PLOT_BOTTOM}" stroke="${MUTED}" stroke-width="1"/>`;
}

function axisTitleY(x: number, label: string): string {
  const centre = (PLOT_TOP + PLOT_BOTTOM) / 2;
  return `<text x="${fmt(x)}" y="${fmt(centre)}" font-size="13" fill="${MUTED}" ` +
    `text-anchor="middle" transform="rotate(-90 ${fmt(x)} ${fmt(centre)})">${
      escapeXml(label)
    }</text>`;
}

/** A row of colour swatches with names, right-aligned to `right`. */
function legend(
  modules: readonly ModuleKind[],
  colors: Map<ModuleKind, string>,
  right: number,
  baselineY: number,
): string {
  const widths = modules.map((kind) => 14 + 7.5 * kind.length + 18);
  let x = right - widths.reduce((a, b) => a + b, 0) + 18;
  const out = [`<g class="legend">`];
  for (const [index, kind] of modules.entries()) {
    out.push(swatch(x, baselineY, kind, colors, "start"));
    x += widths[index]!;
  }
  out.push("</g>");
  return out.join("\n");
}

/** A coloured square followed by the module's name, centred on `x` or starting at it. */
function swatch(
  x: number,
  baselineY: number,
  kind: ModuleKind,
  colors: Map<ModuleKind, string>,
  align: "start" | "middle",
): string {
  const width = 14 + 7.5 * kind.length;
  const left = align === "middle" ? x - width / 2 : x;
  return `<rect x="${fmt(left)}" y="${fmt(baselineY - 10)}" width="10" height="10" ` +
    `fill="${colors.get(kind)}"/>\n` +
    text(left + 14, baselineY, kind, { size: 13, weight: "bold" });
}

/** Round tick values from 0 to `max`: steps of 1, 2 or 5 × 10^k, about six of them. */
function axisTicks(max: number): number[] {
  const rough = max / 6;
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? power);
  const ticks: number[] = [];
  for (let value = 0; value < max; value += step) ticks.push(value);
  // The maximum always gets a tick; a round tick too close below it would overlap its label.
  if (ticks.length > 1 && max - ticks.at(-1)! < step * 0.4) ticks.pop();
  ticks.push(max);
  return ticks;
}

function moduleColors(modules: readonly ModuleKind[]): Map<ModuleKind, string> {
  const colors = new Map<ModuleKind, string>();
  let spare = 0;
  for (const kind of modules) {
    const known = (MODULE_COLORS as Partial<Record<string, string>>)[kind];
    colors.set(kind, known ?? SPARE_COLORS[spare++ % SPARE_COLORS.length]!);
  }
  return colors;
}

interface TextStyle {
  size: number;
  weight?: "bold";
  fill?: string;
  anchor?: "start" | "middle" | "end";
  /** A white outline so that gridlines behind the text do not cut through it. */
  halo?: boolean;
}

function text(x: number, y: number, content: string, style: TextStyle): string {
  const weight = style.weight ? ` font-weight="${style.weight}"` : "";
  const anchor = style.anchor && style.anchor !== "start" ? ` text-anchor="${style.anchor}"` : "";
  const halo = style.halo
    ? ` stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`
    : "";
  return `<text x="${fmt(x)}" y="${fmt(y)}" font-size="${style.size}"${weight}${anchor}${halo} ` +
    `fill="${style.fill ?? TEXT}">${escapeXml(content)}</text>`;
}

function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${count === 1 ? noun : `${noun}s`}`;
}

/** 12345 → "12,345": fixed grouping, independent of the machine's locale. */
function formatCount(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Coordinates to two decimals keep the file small and stable. */
function fmt(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function escapeXml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
