/**
 * Imports run only down the layers: a file in `lib/` imports from its own layer or below, never
 * from a layer above it, `cli/` or the top-level files (`cli.ts`, `mod.ts`).
 *
 * {@link LIB_LAYERS} is the one table of the layers. A new folder in `lib/` must be placed in it;
 * until it is, this test fails and names the folder. `docs/layers.md` says what each layer holds.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The layer of each folder of `lib/`, lowest first:
 *
 * 0. io, backend: files, checkpoints, tfjs backends (the Deno-only code lives here)
 * 1. nn, image: tensor operations, weight initialisers, pixels
 * 2. data: datasets, splits, tiles, COCO and FAIR-1M formats
 * 3. encoder, metrics: SAM's image encoder; scores
 * 4. decoder: prompt encoder, mask decoder, heads
 * 5. train: losses, optimiser, trainer
 * 6. peft, eval: the PEFT modules and their gates; evaluation and prediction
 * 7. run, gate, bench: run folders, gate recording and reports, benchmarks
 * 8. study, export, web: orchestration of everything below
 *
 * Above them all sit `cli/` and the top-level `cli.ts` and `mod.ts`, which no file in `lib/`
 * imports.
 */
export const LIB_LAYERS: Readonly<Record<string, number>> = {
  io: 0,
  backend: 0,
  nn: 1,
  image: 1,
  data: 2,
  encoder: 3,
  metrics: 3,
  decoder: 4,
  train: 5,
  peft: 6,
  eval: 6,
  run: 7,
  gate: 7,
  bench: 7,
  study: 8,
  export: 8,
  web: 8,
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const libRoot = join(repoRoot, "lib");

/** Every `.ts` file under `dir`, as paths relative to the repository root, sorted. */
function tsFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...tsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(relative(repoRoot, path));
  }
  return files.sort();
}

/**
 * The relative module specifiers a source file names: static imports (`import type` too),
 * re-exports (`export ... from`), side-effect imports and dynamic `import()` with a string
 * literal. Comments are removed first so an example in a doc comment does not count.
 */
export function relativeSpecifiers(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  const patterns = [
    // import x from "..."; import type { x } from "..."; export { x } from "..."; export * from "..."
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(["'])([^"']+)\1/g,
    // import "...";
    /\bimport\s*(["'])([^"']+)\1/g,
    // import("...") and import(`...`) without substitutions
    /\bimport\s*\(\s*(["'`])([^"'`$]+)\1/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2]!;
      if (specifier.startsWith("./") || specifier.startsWith("../")) found.push(specifier);
    }
  }
  return [...new Set(found)];
}

/** `source` with its comments blanked out, keeping string literals (which may hold `//`). */
function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 2;
      out += " ";
    } else if (c === '"' || c === "'" || c === "`") {
      const start = i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === "\\") i++;
        if (c !== "`" && source[i] === "\n") break;
        i++;
      }
      i++;
      out += source.slice(start, i);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * Where a repository path sits: a layer number for `lib/<area>/...`, `"top"` for anything outside
 * `lib/` (cli/, cli.ts, mod.ts, scripts), or an error for a folder of `lib/` the table lacks.
 */
function placeOf(path: string): number | "top" | { unplaced: string } {
  const parts = path.split("/");
  if (parts[0] !== "lib") return "top";
  const area = parts.length > 2 ? parts[1]! : "";
  const layer = LIB_LAYERS[area];
  return layer === undefined ? { unplaced: area === "" ? path : `lib/${area}` } : layer;
}

/** Every import in `lib/` that runs upward or out of `lib/`, as `file -> target` lines. */
export function layerViolations(files: string[], read: (path: string) => string): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const own = placeOf(file);
    if (typeof own !== "number") {
      violations.push(`${file}: ${describePlace(own)}`);
      continue;
    }
    for (const specifier of relativeSpecifiers(read(file))) {
      const target = relative(repoRoot, resolve(repoRoot, dirname(file), specifier));
      const place = placeOf(target);
      if (typeof place === "number" && place <= own) continue;
      violations.push(
        `${file} -> ${target} (${describePlace(own)} imports ${describePlace(place)})`,
      );
    }
  }
  return violations;
}

function describePlace(place: number | "top" | { unplaced: string }): string {
  if (place === "top") return "the command line or top level";
  if (typeof place === "number") return `layer ${place}`;
  return `${place.unplaced} is in no layer: add it to LIB_LAYERS in tests/layers_test.ts`;
}

Deno.test("every lib/ folder has a layer and every import in lib/ runs down the layers", () => {
  const files = tsFiles(libRoot);
  const violations = layerViolations(files, (path) => Deno.readTextFileSync(join(repoRoot, path)));
  assertEquals(violations, [], `upward imports:\n${violations.join("\n")}`);
});

Deno.test("the check sees every form of import and reports upward, top-level and unplaced ones", () => {
  const sources: Record<string, string> = {
    "lib/nn/a.ts": [
      `import { x } from "../io/ok.ts";`,
      `import type { Y } from "../data/up.ts";`,
      `export { z } from "../peft/up.ts";`,
      `export * from "../../cli/up.ts";`,
      `const m = await import("../../mod.ts");`,
      `import "./same.ts";`,
      `// import { no } from "../study/comment.ts";`,
      `/* export * from "../study/block_comment.ts"; */`,
      `const url = "http://example.com"; import { w } from "../backend/ok.ts";`,
      `import {`,
      `  type Multi,`,
      `  line,`,
      `} from "../train/multiline.ts";`,
    ].join("\n"),
    "lib/newarea/b.ts": `export const b = 1;`,
  };
  const violations = layerViolations(Object.keys(sources), (path) => sources[path]!);
  assertEquals(violations, [
    "lib/nn/a.ts -> lib/data/up.ts (layer 1 imports layer 2)",
    "lib/nn/a.ts -> lib/peft/up.ts (layer 1 imports layer 6)",
    "lib/nn/a.ts -> cli/up.ts (layer 1 imports the command line or top level)",
    "lib/nn/a.ts -> lib/train/multiline.ts (layer 1 imports layer 5)",
    "lib/nn/a.ts -> mod.ts (layer 1 imports the command line or top level)",
    "lib/newarea/b.ts: lib/newarea is in no layer: add it to LIB_LAYERS in tests/layers_test.ts",
  ]);
});
