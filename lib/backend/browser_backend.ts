/**
 * Choosing and starting the tfjs backend in a web page: WebGPU when the browser offers a hardware
 * adapter, else wasm (SIMD, threaded where the page is cross-origin isolated). The browser's
 * counterpart of `backend.ts`, which also opens the native BLAS and the kernel threads (FFI and
 * workers over a shared heap, Deno only): this module imports none of them, so a page's bundle
 * holds none of that code and the model's kernels take their plain tfjs paths.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { shareIdentityOnWasm } from "./wasm_identity.ts";
import { sliceInPlaceOnWasm } from "./wasm_slice.ts";
import { probeAdapter } from "./webgpu_adapter.ts";

/** The backends a page can ask for (`?backend=`). */
export const BROWSER_BACKEND_NAMES = ["auto", "webgpu", "wasm"] as const;

/** A backend name a page accepts. */
export type BrowserBackendName = typeof BROWSER_BACKEND_NAMES[number];

/** What {@link useBrowserBackend} started. */
export interface BrowserBackendChoice {
  backend: "webgpu" | "wasm";
  /** The WebGPU adapter's description, on webgpu. */
  adapter?: string;
  /** True when the adapter is a software rasteriser (SwiftShader). */
  softwareAdapter?: boolean;
  /** The wasm backend's threads (1 where the page is not cross-origin isolated). */
  threads?: number;
  /** One line for the page: `webgpu on <adapter>` or `wasm (SIMD, 2 threads)`. */
  reason: string;
}

/** Tells whether `name` is one of {@link BROWSER_BACKEND_NAMES}. */
export function isBrowserBackendName(name: string): name is BrowserBackendName {
  return (BROWSER_BACKEND_NAMES as readonly string[]).includes(name);
}

/**
 * Starts `requested` (`auto`: WebGPU when the browser offers a hardware adapter, else wasm;
 * `webgpu` takes a software adapter too). `wasmPath` is the URL of the folder holding tfjs's
 * `.wasm` files (ending in `/`).
 *
 * @example
 * ```ts ignore
 * const choice = await useBrowserBackend("auto", new URL("./", location.href).href);
 * ```
 */
export async function useBrowserBackend(
  requested: BrowserBackendName,
  wasmPath: string,
): Promise<BrowserBackendChoice> {
  let skipped = "";
  if (requested !== "wasm") {
    const adapter = await probeAdapter();
    // As the command line's auto: a software adapter (SwiftShader, about 10 s a 128-px tile here)
    // runs far slower than wasm, so only a forced webgpu takes one.
    if (adapter && (requested === "webgpu" || !adapter.software)) {
      await activate("webgpu");
      return {
        backend: "webgpu",
        adapter: adapter.description,
        softwareAdapter: adapter.software,
        reason: `webgpu on ${adapter.description}${adapter.software ? " (software)" : ""}`,
      };
    }
    if (requested === "webgpu") {
      throw new Error("Cannot use the webgpu backend: this browser offers no WebGPU adapter");
    }
    if (adapter) skipped = `; auto: the WebGPU adapter ${adapter.description} is software`;
  }
  setWasmPaths(wasmPath);
  // tfjs's threaded build needs SharedArrayBuffer (a cross-origin isolated page); it then takes
  // half the cores by default, all of them here: the page has nothing else to run.
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  if (isolated) setThreadsCount(Math.max(1, navigator.hardwareConcurrency ?? 1));
  await activate("wasm");
  shareIdentityOnWasm();
  sliceInPlaceOnWasm();
  const threads = getThreadsCount();
  return {
    backend: "wasm",
    threads,
    reason: `wasm (SIMD, ${threads} thread${threads === 1 ? "" : "s"}${
      isolated ? "" : ": the page is not cross-origin isolated"
    }${skipped})`,
  };
}

async function activate(name: "webgpu" | "wasm"): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`Cannot start the ${name} backend`);
}
