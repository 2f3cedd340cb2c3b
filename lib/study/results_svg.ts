/**
 * `study report --svg`: the results table drawn as grouped bars, one group per dataset, one bar
 * per method (mIoU; a whisker of ± one standard deviation over seeds). Pure string building.
 *
 * @module
 */
import type { ResultsTable } from "./report.ts";

/** Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), in order. */
const COLORS = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#D55E00",
  "#56B4E9",
  "#F0E442",
  "#000000",
  "#999999",
];
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const TEXT = "#222222";
const GRID = "#e3e3e3";
const PLOT_TOP = 70;
const PLOT_HEIGHT = 260;
const LEFT = 64;
const GROUP_GAP = 26;
const LEGEND_ENTRY = 130;

/**
 * Draws `table` as a standalone SVG.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("results.svg", resultsSvg(report.tables.results, { title: "Table 4.4" }));
 * ```
 */
export function resultsSvg(table: ResultsTable, options: { title?: string } = {}): string {
  const rows = table.groups.flatMap((g) => g.rows);
  const methods = table.methods;
  // Wide bars for a small table, narrow ones so that a 22-dataset table stays readable.
  const BAR = rows.length * methods.length <= 24 ? 24 : 14;
  const groupWidth = methods.length * BAR + GROUP_GAP;
  const width = Math.max(460, LEFT + rows.length * groupWidth + 24);
  const perLegendRow = Math.max(1, Math.floor((width - LEFT - 16) / LEGEND_ENTRY));
  const legendRows = Math.ceil(methods.length / perLegendRow);
  const height = PLOT_TOP + PLOT_HEIGHT + 58 + legendRows * 18;
  const max = niceMax(
    Math.max(0, ...rows.flatMap((r) => r.values.map((v) => (v ? v.mean + (v.std ?? 0) : 0)))),
  );
  const y = (value: number) => PLOT_TOP + PLOT_HEIGHT - (value / max) * PLOT_HEIGHT;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${LEFT}" y="30" font-size="17" font-weight="600" fill="${TEXT}">${
      escape(options.title ?? "mIoU per dataset and method")
    }</text>`,
  );
  out.push(
    `<text x="${LEFT}" y="50" font-size="12" fill="#555555">mIoU (%), mean over seeds, whiskers ± one standard deviation</text>`,
  );
  for (let tick = 0; tick <= 4; tick++) {
    const value = (max * tick) / 4;
    const ty = y(value);
    out.push(
      `<line x1="${LEFT}" x2="${width - 16}" y1="${ty}" y2="${ty}" stroke="${GRID}"/>`,
      `<text x="${LEFT - 8}" y="${ty + 4}" font-size="11" text-anchor="end" fill="${TEXT}">${
        round(value)
      }</text>`,
    );
  }
  for (const [g, row] of rows.entries()) {
    const x0 = LEFT + GROUP_GAP / 2 + g * groupWidth;
    for (const [m, value] of row.values.entries()) {
      if (!value) continue;
      const x = x0 + m * BAR;
      const top = y(value.mean);
      out.push(
        `<rect x="${x}" y="${top}" width="${BAR - 2}" height="${
          PLOT_TOP + PLOT_HEIGHT - top
        }" fill="${COLORS[m % COLORS.length]}"><title>${escape(row.dataset)}, ${
          escape(methods[m]!)
        }: ${value.mean.toFixed(2)}${
          value.std !== null ? ` ± ${value.std.toFixed(2)}` : ""
        }</title></rect>`,
      );
      if (value.std) {
        const cx = x + (BAR - 2) / 2;
        out.push(
          `<line x1="${cx}" x2="${cx}" y1="${y(value.mean + value.std)}" y2="${
            y(Math.max(0, value.mean - value.std))
          }" stroke="${TEXT}"/>`,
        );
      }
    }
    out.push(
      `<text x="${x0 + (methods.length * BAR) / 2}" y="${
        PLOT_TOP + PLOT_HEIGHT + 18
      }" font-size="11" text-anchor="middle" fill="${TEXT}">${escape(row.dataset)}</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" x2="${width - 16}" y1="${PLOT_TOP + PLOT_HEIGHT}" y2="${
      PLOT_TOP + PLOT_HEIGHT
    }" stroke="${TEXT}"/>`,
  );
  const legendTop = PLOT_TOP + PLOT_HEIGHT + 44;
  for (const [m, method] of methods.entries()) {
    const lx = LEFT + (m % perLegendRow) * LEGEND_ENTRY;
    const ly = legendTop + Math.floor(m / perLegendRow) * 18;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[m % COLORS.length]}"/>`,
      `<text x="${lx + 17}" y="${ly}" font-size="12" fill="${TEXT}">${escape(method)}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function niceMax(value: number): number {
  if (value <= 0) return 100;
  const step = value > 50 ? 20 : value > 20 ? 10 : 5;
  return Math.min(100, Math.ceil(value / step) * step) || step;
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
