/**
 * Starting tfjs-backend-wasm's threaded SIMD build (`tfjs-backend-wasm-threaded-simd.wasm`, an
 * Emscripten pthreads build whose XNNPACK thread pool spreads matrix products over cores) under
 * Deno, where tfjs never picks it on its own.
 *
 * Why tfjs runs single-threaded under Deno, and what this module works around (tfjs 4.22.0):
 *
 * - `WASM_HAS_MULTITHREAD_SUPPORT` answers false whenever `IS_NODE` is true, and Deno's Node
 *   compatibility makes it true. We force the flag for the duration of the start.
 * - The package's npm entry is its Node bundle, so the Emscripten glue takes its Node path and
 *   spawns pthreads with `require("worker_threads").Worker` on a `blob:` URL holding the worker
 *   script. Deno's `node:worker_threads` accepts only file paths and `file:`/`data:` URLs. We swap
 *   in a {@link PthreadWorker} (a `node:worker_threads` Worker running a small module of ours) while
 *   the backend starts; it reads the blob URL with `fetch` (Deno shares blob URLs between
 *   workers) and evaluates the worker script itself.
 * - The glue sends each worker the main script as a `Blob` and the worker loads it with
 *   `importScripts`, which the Node path implements as `fs.readFileSync`. The wrapper turns the
 *   Blob into a `data:` URL and the worker module replaces `importScripts` with one that evaluates
 *   it. In the Node bundle that script's `require(...)` calls were renamed by the bundler to
 *   `require$$N` variables that `Function.prototype.toString` does not carry along, so the worker
 *   defines them (the reason tfjs's own Node threads never worked, tfjs issue #3830).
 * - The glue `ref()`s a worker while it runs a pthread, and XNNPACK's pool threads run for the
 *   process's lifetime, which would keep Deno from ever exiting; the wrapper's `ref()` does nothing.
 * - tfjs caps the pool at `os.cpus().length / 2` (it assumes two hyperthreads per core), one thread
 *   on a 2-vCPU machine; `os.cpus` is widened while the wasm module's constructors run so that the
 *   cap is the count asked for.
 *
 * Every patch (`node:worker_threads`'s `Worker`, `os.cpus`, `globalThis.Worker`, which the glue
 * overwrites) is undone once the backend has started or failed. A start that fails or stalls is
 * torn down (workers terminated, the backend factory re-registered, the flag cleared) so that the
 * caller can start the plain SIMD build instead.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import os from "node:os";
import workerThreads from "node:worker_threads";
import { threadCountFromEnv } from "./heap_threads.ts";

/** The most threads tfjs's build can use: its Emscripten pthread pool has 8 workers. */
export const MAX_WASM_THREADS = 8;

/**
 * The thread count asked for by `value` (the `MOPEFT_WASM_THREADS` environment variable): unset,
 * empty, `0`, `1` or `off` mean single-threaded (1); `auto` means every core (`cores`); a number
 * means that many. The result lies in 1..{@link MAX_WASM_THREADS}.
 *
 * @example
 * ```ts
 * wasmThreadsFromEnv("auto", 2); // 2
 * wasmThreadsFromEnv(undefined, 16); // 1
 * ```
 */
export function wasmThreadsFromEnv(value: string | undefined, cores: number): number {
  return threadCountFromEnv("MOPEFT_WASM_THREADS", value, cores, "off", MAX_WASM_THREADS);
}

// The module each pthread worker runs. It holds back messages until the worker script (fetched
// from tfjs's blob URL) has installed its handler, then replays them.
const WORKER_MODULE = `
import { parentPort, workerData } from "node:worker_threads";
const early = [];
const hold = (message) => early.push(message);
parentPort.on("message", hold);
const script = await (await fetch(workerData.scriptUrl)).text();
globalThis.__filename = workerData.scriptUrl;
// The worker script assigns location, which Deno's worker global only has a getter for.
Object.defineProperty(globalThis, "location", {
  value: { href: workerData.scriptUrl }, writable: true, configurable: true,
});
(0, eval)(script);
// The names the bundler gave the main script's require() calls (see the module comment).
globalThis.require$$0 = require("fs");
globalThis.require$$1 = require("path");
globalThis.require$$3 = require("perf_hooks");
globalThis.require$$4 = require("os");
globalThis.commonjsGlobal = globalThis;
globalThis.importScripts = (url) => {
  const prefix = "data:text/javascript,";
  if (!url.startsWith(prefix)) throw new Error("mopeft pthread worker cannot load " + url.slice(0, 60));
  (0, eval)(decodeURIComponent(url.slice(prefix.length)));
};
parentPort.off("message", hold);
for (const message of early) globalThis.onmessage({ data: message });
`;
const WORKER_URL = new URL("data:text/javascript," + encodeURIComponent(WORKER_MODULE));

// Free names the main script may use; any other `require$$N` means a tfjs build this module does
// not know, and starting it would fail inside a worker, so it is refused up front.
const KNOWN_BUNDLER_NAMES = new Set(["require$$0", "require$$1", "require$$3", "require$$4"]);

const NodeWorker = workerThreads.Worker;

interface StartState {
  workers: PthreadWorker[];
  fail(error: Error): void;
  started: boolean;
}

let state: StartState | undefined;

/** A `node:worker_threads` Worker that can run tfjs's pthread worker script under Deno. */
class PthreadWorker extends NodeWorker {
  #pending: Promise<void> | undefined;
  #state: StartState | undefined;

  constructor(scriptUrl: string | URL) {
    super(WORKER_URL, { workerData: { scriptUrl: String(scriptUrl) } });
    this.#state = state;
    this.#state?.workers.push(this);
  }

  /** Does nothing: a ref'd pool thread would keep the process alive forever. */
  override ref(): void {}

  /** Sends `message`, turning the main script's Blob into a `data:` URL first. */
  // deno-lint-ignore no-explicit-any
  override postMessage(message: any, transfer?: any): void {
    if (message?.cmd === "load" && message.urlOrBlob instanceof Blob) {
      const blob = message.urlOrBlob as Blob;
      const sent: Promise<void> = (this.#pending ?? Promise.resolve()).then(async () => {
        const text = await blob.text();
        const names = new Set(text.match(/\brequire\$\$\d+\b/g) ?? []);
        const unknown = [...names].filter((name) => !KNOWN_BUNDLER_NAMES.has(name));
        if (unknown.length > 0) throw new Error(`unknown bundler names ${unknown.join(", ")}`);
        const url = "data:text/javascript," + encodeURIComponent(text);
        super.postMessage({ ...message, urlOrBlob: url }, transfer);
        if (this.#pending === sent) this.#pending = undefined;
      }).catch((error) => this.#state?.fail(error instanceof Error ? error : new Error(error)));
      this.#pending = sent;
      return;
    }
    // Must stay synchronous: the glue posts "run" and then blocks the main thread in Atomics.wait
    // until the thread has started, so a message deferred to a later task would never go out.
    if (this.#pending) {
      this.#pending = this.#pending.then(() => super.postMessage(message, transfer));
      return;
    }
    super.postMessage(message, transfer);
  }

  /** Turns a worker error during the start into a failed start instead of a crash. */
  // deno-lint-ignore no-explicit-any
  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === "error" && this.#state && !this.#state.started) {
      const error = args[0];
      this.#state.fail(error instanceof Error ? error : new Error(String(error?.message ?? error)));
      return true;
    }
    return super.emit(event, ...args);
  }
}

/** Whether `wasm` has a backend instance already (then its build can no longer be chosen). */
function wasmStarted(): boolean {
  return (tf.engine().registry as Record<string, unknown>)["wasm"] != null;
}

/**
 * Starts tfjs's `wasm` backend from its threaded SIMD build with `threads` threads (at least 2)
 * and makes it the active backend. Call it before anything else starts the wasm backend, after
 * `setWasmPaths`. Resolves to the thread count XNNPACK got.
 *
 * On failure (a worker that does not start, a start slower than `timeoutMs`, fewer than 2
 * threads) it stops every worker it started, leaves no `wasm` backend instance behind, clears
 * `WASM_HAS_MULTITHREAD_SUPPORT` and rejects, so that `tf.setBackend("wasm")` then starts the
 * single-threaded SIMD build.
 *
 * @example
 * ```ts ignore
 * const threads = await startThreadedWasm(2).catch(() => 1);
 * ```
 */
export async function startThreadedWasm(threads: number, timeoutMs = 60_000): Promise<number> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`threads must be 2..${MAX_WASM_THREADS}, not ${threads}`);
  }
  if (wasmStarted()) throw new Error("the wasm backend had already been started single-threaded");
  if (state) throw new Error("a threaded wasm start is already under way");
  const factory = tf.findBackendFactory("wasm");
  if (!factory) throw new Error("tfjs-backend-wasm is not registered");

  let reject!: (error: Error) => void;
  const failed = new Promise<never>((_, r) => reject = r);
  failed.catch(() => {});
  const current: StartState = { workers: [], fail: (error) => reject(error), started: false };
  state = current;

  const cpus = os.cpus;
  const globalWorker = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  const patchable = workerThreads as unknown as { Worker: unknown };
  const patchableOs = os as unknown as { cpus: () => unknown[] };
  patchable.Worker = PthreadWorker;
  patchableOs.cpus = () => {
    const list = cpus();
    return Array.from({ length: threads * 2 }, (_, i) => list[i % list.length]);
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, r) => {
    timer = setTimeout(() => r(new Error(`no start within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const ok = await Promise.race([tf.setBackend("wasm"), failed, timedOut]);
    if (!ok || tf.getBackend() !== "wasm") throw new Error("tfjs could not start it");
    const got = getThreadsCount();
    if (got < 2) throw new Error(`XNNPACK got ${got} thread(s)`);
    current.started = true;
    return got;
  } catch (error) {
    for (const worker of current.workers) worker.terminate();
    // Disposing any instance, superseding the pending start (its result is then ignored) and giving the plain build a
    // fresh factory entry; 2 is tfjs-backend-wasm's own priority.
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", factory, 2);
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setThreadsCount(-1);
    throw error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
    patchable.Worker = NodeWorker;
    patchableOs.cpus = cpus;
    if (globalWorker) Object.defineProperty(globalThis, "Worker", globalWorker);
    state = undefined;
  }
}
