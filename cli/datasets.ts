/**
 * `mopeft datasets`: the MESS datasets mopeft knows.
 *
 * @module
 */
import type { Command } from "commander";
import { MESS_DATASETS } from "../lib/data/registry.ts";
import { printJson } from "./io.ts";

/** Registers `mopeft datasets`. */
export function registerDatasets(program: Command): void {
  program.command("datasets")
    .description("List the 22 MESS datasets: id, name, folder under the MESS root, classes")
    .option("--json", "print JSON instead of a table", false)
    .action((options: { json: boolean }) => {
      const rows = MESS_DATASETS.map((spec) => ({
        id: spec.id,
        name: spec.name,
        folder: spec.folder,
        numClasses: spec.classNames.length,
        splits: Object.keys(spec.splits),
        variants: spec.variants.map((variant) => variant.name),
        classNames: [...spec.classNames],
      }));
      if (options.json) {
        printJson(rows);
        return;
      }
      const table = [
        ["id", "name", "folder", "classes", "splits", "variants"],
        ...rows.map((row) => [
          row.id,
          row.name,
          row.folder,
          String(row.numClasses),
          row.splits.join(","),
          row.variants.join(",") || "-",
        ]),
      ];
      const widths = table[0]!.map((_, col) => Math.max(...table.map((line) => line[col]!.length)));
      const text = table.map((line) =>
        line.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd()
      ).join("\n");
      Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
    });
}
