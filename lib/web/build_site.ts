/**
 * Writing a web folder for a trained run: `index.html`, `mopeft.js` (the page's program bundled
 * from this library by `deno bundle --platform browser` at build time), tfjs's `.wasm` files,
 * the run's weights as they are (the base checkpoint, `peft.json`, `peft.safetensors`) and
 * `site.json`. The folder is built beside the target and renamed into place, so a failed build
 * leaves nothing half-written.
 *
 * @module
 */
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { PEFT_MANIFEST_FILE, PEFT_WEIGHTS_FILE } from "../peft/run_files.ts";
import { indexHtml } from "./index_html.ts";
import { SITE_FILE, type SiteManifest } from "./site_manifest.ts";

/** tfjs-backend-wasm's binaries (plain SIMD and threaded SIMD, and the fallback). */
export const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
] as const;

/** The page's program in the folder. */
export const BUNDLE_FILE = "mopeft.js";

/** What {@link buildSite} wrote. */
export interface SiteSummary {
  out: string;
  /** Every file with its size in bytes. */
  files: Record<string, number>;
  /** What the page fetches for the weights. */
  weightBytes: number;
  /** The program (bundle + wasm) and the page. */
  codeBytes: number;
  totalBytes: number;
}

/** Options of {@link buildSite}. */
export interface BuildSiteOptions {
  checkpoint: string;
  peft: string;
  out: string;
  /** Called with a line of progress. */
  onProgress?: (line: string) => void;
}

/**
 * Checks `out` can take a site: absent, an empty folder, or a site written before (replaced);
 * throws a one-line error for a file or a folder holding something else.
 */
export async function checkSiteTarget(out: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isDirectory) throw new Error(`Cannot write web folder "${out}": it is a file`);
  const names: string[] = [];
  for await (const entry of Deno.readDir(out)) names.push(entry.name);
  if (names.length > 0 && !names.includes(SITE_FILE)) {
    throw new Error(
      `Cannot write web folder "${out}": it holds other files (give a new or empty folder)`,
    );
  }
}

/** Bundles the page's program from this library into `target`. */
export async function bundlePage(target: string): Promise<void> {
  const entry = new URL("./page.ts", import.meta.url);
  if (entry.protocol !== "file:") {
    throw new Error("Cannot bundle the web page: the library's sources are not files here");
  }
  const root = fromFileUrl(new URL("../../", import.meta.url));
  const importMap = fromFileUrl(new URL("./browser_imports.json", import.meta.url));
  const deno = /deno(\.exe)?$/.test(Deno.execPath()) ? Deno.execPath() : "deno";
  const { code, stderr } = await new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "--import-map",
      importMap,
      "-o",
      target,
      fromFileUrl(entry),
    ],
    cwd: root,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (code !== 0) {
    const why = new TextDecoder().decode(stderr).split("\n").find((line) => /error/i.test(line));
    throw new Error(`Cannot bundle the web page: ${why?.trim() ?? `deno bundle exited ${code}`}`);
  }
}

function wasmFolder(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
}

/**
 * Writes the web folder for the run `options.peft` on `options.checkpoint` into `options.out`.
 * The caller checks the run loads on the checkpoint first (`openRun`); this only copies and
 * bundles.
 *
 * @example
 * ```ts ignore
 * const summary = await buildSite({ checkpoint: "sam.safetensors", peft: "runs/a", out: "site" });
 * ```
 */
export async function buildSite(options: BuildSiteOptions): Promise<SiteSummary> {
  const out = resolve(options.out);
  await checkSiteTarget(out);
  await Deno.mkdir(dirname(out), { recursive: true });
  const staging = await Deno.makeTempDir({ dir: dirname(out), prefix: `.${basename(out)}.` });
  await Deno.chmod(staging, 0o755); // a temporary folder is private; a web folder is not
  try {
    options.onProgress?.("bundling the page");
    await bundlePage(join(staging, BUNDLE_FILE));
    const wasm = wasmFolder();
    for (const name of WASM_FILES) await Deno.copyFile(join(wasm, name), join(staging, name));
    options.onProgress?.("copying the weights");
    await Deno.mkdir(join(staging, "weights"));
    const checkpointFile = "weights/checkpoint.safetensors";
    await Deno.copyFile(options.checkpoint, join(staging, checkpointFile));
    const manifestFile = `weights/${PEFT_MANIFEST_FILE}`;
    const weightsFile = `weights/${PEFT_WEIGHTS_FILE}`;
    await Deno.copyFile(join(options.peft, PEFT_MANIFEST_FILE), join(staging, manifestFile));
    await Deno.copyFile(join(options.peft, PEFT_WEIGHTS_FILE), join(staging, weightsFile));
    const run = basename(resolve(options.peft));
    const sizes = async (names: string[]) => {
      let total = 0;
      for (const name of names) total += (await Deno.stat(join(staging, name))).size;
      return total;
    };
    const site: SiteManifest = {
      format: "mopeft-web",
      version: 1,
      run,
      checkpoint: { file: checkpointFile, name: basename(options.checkpoint) },
      manifest: manifestFile,
      weights: weightsFile,
      downloadBytes: await sizes([checkpointFile, manifestFile, weightsFile]),
    };
    await Deno.writeTextFile(join(staging, SITE_FILE), JSON.stringify(site, null, 2) + "\n");
    await Deno.writeTextFile(join(staging, "index.html"), indexHtml(run));
    const files: Record<string, number> = {};
    for (
      const name of [
        "index.html",
        BUNDLE_FILE,
        ...WASM_FILES,
        SITE_FILE,
        checkpointFile,
        manifestFile,
        weightsFile,
      ]
    ) {
      files[name] = (await Deno.stat(join(staging, name))).size;
    }
    await swapInto(staging, out);
    const totalBytes = Object.values(files).reduce((a, b) => a + b, 0);
    const weightBytes = site.downloadBytes;
    return { out, files, weightBytes, codeBytes: totalBytes - weightBytes, totalBytes };
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Renames `staging` to `out`, replacing an earlier site there only once the new one is whole. */
async function swapInto(staging: string, out: string): Promise<void> {
  let previous: string | undefined;
  try {
    await Deno.stat(out);
    previous = `${staging}.old`;
    await Deno.rename(out, previous);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(staging, out);
  if (previous) await Deno.remove(previous, { recursive: true });
}
