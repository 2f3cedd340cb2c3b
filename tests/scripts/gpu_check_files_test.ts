/**
 * scripts/gpu_check_files.txt lists the npm files the GPU check's bundle carries (traced by
 * `scripts/pack_gpu_check.sh --trace`). A list made for other package versions than deno.json's
 * would pack a bundle that cannot start: these tests hold the list to the installed packages.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const listed = (await Deno.readTextFile(`${root}scripts/gpu_check_files.txt`))
  .split("\n").filter((line) => line !== "");
const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`)) as {
  imports: Record<string, string>;
};

/** `npm:@tensorflow/tfjs-core@4.22.0` -> its folder in node_modules/.deno and its name. */
function npmPackage(specifier: string): { folder: string; name: string } {
  const match = specifier.match(/^npm:((?:@[^/]+\/)?[^@]+)@(.+)$/);
  if (!match) throw new Error(`not an npm: specifier with a version: ${specifier}`);
  const [, name, version] = match;
  return { folder: `.deno/${name!.replace("/", "+")}@${version}`, name: name! };
}

Deno.test("every file the GPU bundle lists exists in node_modules, as a regular file", async () => {
  ok(listed.length > 0);
  const missing: string[] = [];
  for (const path of listed) {
    const info = await Deno.lstat(`${root}node_modules/${path}`).catch(() => null);
    if (!info?.isFile) missing.push(path);
  }
  assertEquals(missing, [], "run scripts/pack_gpu_check.sh --trace to list the files again");
});

/**
 * Packages that no module loads when the CLI starts: onnxruntime-node is imported on demand (an
 * export's `--check`, `predict --onnx`, `bench --onnx`), puppeteer-core only by tests and scripts.
 * The GPU check runs none of those, so its bundle leaves them out (onnxruntime-node alone is 294 MB).
 */
const ON_DEMAND = ["onnxruntime-node", "puppeteer-core"];

Deno.test("the packages the GPU bundle leaves out are never imported statically by the CLI", async () => {
  const offenders: string[] = [];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await visit(path);
      else if (path.endsWith(".ts")) {
        const source = await Deno.readTextFile(`${root}${path}`);
        for (const name of ON_DEMAND) {
          // `import type` is erased; `import("...")` is dynamic. Any other import loads it.
          const statically = new RegExp(
            `^\\s*(import|export)(?!\\s+type\\b)[^;]*?from\\s*["']${name}["']`,
            "m",
          );
          if (statically.test(source)) offenders.push(`${path} imports ${name}`);
        }
      }
    }
  };
  await visit("lib");
  await visit("cli");
  for (const top of ["cli.ts", "mod.ts"]) {
    const source = await Deno.readTextFile(`${root}${top}`);
    for (const name of ON_DEMAND) {
      if (source.includes(`"${name}"`)) offenders.push(`${top} imports ${name}`);
    }
  }
  assertEquals(offenders, []);
});

Deno.test("the GPU bundle lists each package deno.json imports, at deno.json's version", () => {
  // The tfjs-backend-wasm module is imported (setWasmPaths) though no wasm binary is loaded.
  for (const specifier of Object.values(config.imports)) {
    const { folder, name } = npmPackage(specifier);
    if (ON_DEMAND.includes(name)) continue;
    const manifest = `${folder}/node_modules/${name}/package.json`;
    ok(listed.includes(manifest), `${manifest} (from ${specifier}) is not listed`);
  }
  // No file of a package version deno.json does not name: a stale list fails here.
  const folders = new Set(listed.map((path) => path.split("/").slice(0, 2).join("/")));
  for (const specifier of Object.values(config.imports)) {
    const { folder, name } = npmPackage(specifier);
    for (const other of folders) {
      const otherName = other.slice(".deno/".length).replace(/@[^@]+$/, "").replace("+", "/");
      if (otherName === name) assertEquals(other, folder, `${name} at another version`);
    }
  }
});
