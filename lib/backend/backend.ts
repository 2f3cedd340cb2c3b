/**
 * Choosing and starting the tfjs backend that runs the model.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { startThreadedWasm, wasmThreadsFromEnv } from "./wasm_threads.ts";
import {
  HeapThreads,
  MAX_KERNEL_THREADS,
  setHeapThreads,
  threadCountFromEnv,
} from "./heap_threads.ts";
import { withSharedHeap } from "./wasm_shared_heap.ts";
import { type Blas, blasRequestFromEnv, openBlas } from "./blas.ts";
import { installBlasMatMul } from "./blas_matmul.ts";
import { shareIdentityOnWasm } from "./wasm_identity.ts";
import { sliceInPlaceOnWasm } from "./wasm_slice.ts";
import { probeAdapter } from "./webgpu_adapter.ts";

/** The backends a user can ask for. `auto` picks the fastest one that can train here. */
export const BACKEND_NAMES = ["auto", "webgpu", "wasm", "cpu"] as const;

/** A backend name as accepted by `--backend`. */
export type BackendName = typeof BACKEND_NAMES[number];

/** What {@link useBackend} chose and why. */
export interface BackendChoice {
  /** The tfjs backend now active: `webgpu`, `wasm` or `cpu`. */
  backend: "webgpu" | "wasm" | "cpu";
  /** The WebGPU adapter's description, when one was found. */
  adapter?: string;
  /** True when the adapter is a software rasteriser (llvmpipe, lavapipe, SwiftShader). */
  softwareAdapter?: boolean;
  /**
   * The WebGPU device's limits that bound tensor sizes (tfjs requests the adapter's own maxima
   * rather than WebGPU's defaults, e.g. 128 MiB bindings instead of the spec's minimum).
   */
  deviceLimits?: WebGpuLimits;
  /** The native BLAS library that runs matrix products (wasm and cpu backends), if any. */
  blas?: string;
  /** One line for `--verbose` output. */
  reason: string;
}

/** Tells whether `name` is one of {@link BACKEND_NAMES}. */
export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/** The WebGPU limits recorded in {@link BackendChoice.deviceLimits}, in bytes or counts. */
export interface WebGpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

function webGpuLimits(): WebGpuLimits | undefined {
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!device) return undefined;
  const { limits } = device;
  return {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
  };
}

let wasmPathsSet = false;

function prepareWasm(): void {
  if (wasmPathsSet) return;
  // The wasm binaries ship in the package's dist folder; tfjs fetches them by URL, so point it at
  // that folder as a file:// URL instead of a CDN (this machine has no network beyond npm).
  const require = createRequire(import.meta.url);
  const entry = require.resolve("@tensorflow/tfjs-backend-wasm");
  setWasmPaths(pathToFileURL(dirname(entry) + "/").href);
  wasmPathsSet = true;
}

// How the wasm backend was started, appended to the reason; set by the first wasm start.
let wasmNote = "";
let wasmThreadsTried = false;

// Threads are opt-in (MOPEFT_WASM_THREADS=auto or a count), tried once per process: tfjs picks
// its build when the backend first starts, and a failed threaded start falls back to the
// single-threaded SIMD build with the reason recorded.
async function startWasmThreads(): Promise<void> {
  if (wasmThreadsTried) return;
  wasmThreadsTried = true;
  let threads: number;
  try {
    threads = wasmThreadsFromEnv(
      Deno.env.get("MOPEFT_WASM_THREADS"),
      navigator.hardwareConcurrency ?? 1,
    );
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return;
    throw error;
  }
  if (threads < 2) return;
  try {
    const got = await startThreadedWasm(threads);
    wasmNote = `, ${got} threads`;
  } catch (error) {
    wasmNote = `, single-threaded (threads failed: ${(error as Error).message})`;
  }
}

// The native library for matrix products on the host backends: opened once per process.
let blasOutcome: { blas?: Blas; reason?: string } | undefined;

function nativeBlas(): { blas?: Blas; reason?: string } {
  if (blasOutcome) return blasOutcome;
  let setting: string | undefined;
  try {
    setting = Deno.env.get("MOPEFT_BLAS");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  blasOutcome = openBlas(blasRequestFromEnv(setting));
  return blasOutcome;
}

// Routes the host backend's products to the native library when there is one; returns the note
// for the reason line.
function attachBlas(name: "wasm" | "cpu"): { blas?: string; note: string } {
  const { blas, reason } = nativeBlas();
  if (!blas) return { note: `, tfjs matrix products: ${reason}` };
  installBlasMatMul(blas, name);
  return { blas: blas.path, note: `, matrix products on ${blas.path}` };
}

// OpenBLAS's threads spin (sched_yield) for 2^28 cycles (about 0.1 s) after each product before
// they sleep, and so took the second core from a kernel thread: a split softmax between two products
// ran no faster than on one thread. Unless the user set it, they spin 2^18 cycles (about 0.1 ms):
// enough for back-to-back products to find them awake (at 2^4, OpenBLAS's least, a run of 2 ms
// products was 5-8% slower), short next to a kernel's 1-3 ms. Read once, when the library loads.
function shortBlasSpin(): void {
  try {
    if (!blasOutcome && !Deno.env.get("OPENBLAS_THREAD_TIMEOUT")) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", "18");
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
}

// The kernel threads asked for: MOPEFT_KERNEL_THREADS, every core by default.
function kernelThreadsWanted(): number {
  let setting: string | undefined;
  try {
    setting = Deno.env.get("MOPEFT_KERNEL_THREADS");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  return threadCountFromEnv(
    "MOPEFT_KERNEL_THREADS",
    setting,
    navigator.hardwareConcurrency ?? 1,
    "auto",
    MAX_KERNEL_THREADS,
  );
}

// Starts the single-threaded SIMD build over a shared heap and the kernel threads over it, where
// more than one is asked for and the build is not started yet; notes the outcome.
async function startWasmWithKernelThreads(): Promise<boolean> {
  const threads = kernelThreadsWanted();
  const fresh = (tf.engine().registry as Record<string, unknown>)["wasm"] == null;
  if (threads < 2 || !fresh) return await tf.setBackend("wasm");
  let ok = false;
  const memory = await withSharedHeap(async () => {
    ok = await tf.setBackend("wasm");
  });
  if (!ok) return ok;
  if (!memory) {
    wasmNote += ", one kernel thread (tfjs's wasm module is not one the shared heap knows)";
    return ok;
  }
  try {
    setHeapThreads(memory, await HeapThreads.start(memory, threads));
    wasmNote += `, ${threads} kernel threads`;
    shortBlasSpin();
  } catch (error) {
    wasmNote += `, one kernel thread (threads failed: ${(error as Error).message})`;
  }
  return ok;
}

async function activate(name: "webgpu" | "wasm" | "cpu"): Promise<void> {
  if (name === "wasm") {
    prepareWasm();
    await startWasmThreads();
  }
  if (tf.getBackend() === name) return;
  const ok = name === "wasm" ? await startWasmWithKernelThreads() : await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`Cannot start the ${name} backend`);
  }
  if (name === "wasm") {
    shareIdentityOnWasm();
    sliceInPlaceOnWasm();
  }
}

/**
 * Starts the backend `requested` (or, for `auto`, the best one here) and returns what was chosen.
 *
 * `auto` takes WebGPU only on a hardware adapter. On a software adapter (llvmpipe) WebGPU runs
 * about 25x slower than the wasm backend with SIMD, which also supports every gradient the
 * training needs once convolutions are written as matrix products, so `auto` takes wasm there.
 *
 * @example
 * ```ts ignore
 * const choice = await useBackend("auto");
 * console.error(choice.reason);
 * ```
 */
export async function useBackend(requested: BackendName): Promise<BackendChoice> {
  if (requested === "cpu" || requested === "wasm") {
    await activate(requested);
    const native = attachBlas(requested);
    const note = (requested === "wasm" ? wasmNote : "") + native.note;
    return {
      backend: requested,
      blas: native.blas,
      reason: `backend ${requested} (asked for${note})`,
    };
  }
  const adapter = await probeAdapter();
  if (requested === "webgpu") {
    if (!adapter) throw new Error("Cannot use the webgpu backend: no WebGPU adapter was found");
    await activate("webgpu");
    return {
      backend: "webgpu",
      adapter: adapter.description,
      softwareAdapter: adapter.software,
      deviceLimits: webGpuLimits(),
      reason: `backend webgpu on ${adapter.description}${
        adapter.software ? " (a software adapter: expect it to be slow)" : ""
      }`,
    };
  }
  if (adapter && !adapter.software) {
    await activate("webgpu");
    return {
      backend: "webgpu",
      adapter: adapter.description,
      softwareAdapter: false,
      deviceLimits: webGpuLimits(),
      reason: `backend webgpu on ${adapter.description} (auto: hardware adapter)`,
    };
  }
  await activate("wasm");
  const native = attachBlas("wasm");
  return {
    backend: "wasm",
    adapter: adapter?.description,
    softwareAdapter: adapter?.software,
    blas: native.blas,
    reason: adapter
      ? `backend wasm (auto: the WebGPU adapter ${adapter.description} is a software rasteriser${wasmNote}${native.note})`
      : `backend wasm (auto: no WebGPU adapter${wasmNote}${native.note})`,
  };
}
