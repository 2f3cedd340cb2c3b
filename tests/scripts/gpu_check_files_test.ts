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

Deno.test("the GPU bundle lists each package deno.json imports, at deno.json's version", () => {
  // The tfjs-backend-wasm module is imported (setWasmPaths) though no wasm binary is loaded.
  for (const specifier of Object.values(config.imports)) {
    const { folder, name } = npmPackage(specifier);
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
