/**
 * Threads for the SIMD kernels: workers that run the same WebAssembly exports on the same shared
 * heap as the main thread, each on its own share of the rows.
 *
 * tfjs-backend-wasm runs every kernel on the main thread, so on a 2-core machine half the CPU
 * idles whenever no matrix product (OpenBLAS, threaded) is running: a third of a vit_b training
 * step. Where the heap is a shared `WebAssembly.Memory` (`wasm_shared_heap.ts`), each worker here
 * instantiates the kernel modules over that very memory; a call splits its count (rows, or bytes
 * of an elementwise loop) into one part per thread, posts the workers' parts through a
 * shared control block, runs the last part itself and waits for the others. Each row is still
 * computed by one thread with the same instructions, so results are bit for bit those of one
 * thread.
 *
 * The workers block in `Atomics.wait` between calls (no spinning), are unref'd (they never keep
 * the process alive) and load modules through a shared mailbox, so a kernel's first call never
 * waits on the event loop.
 *
 * @module
 */
import workerThreads from "node:worker_threads";

// The registry of started threads and the split of a kernel's exports are plain TypeScript (the
// browser bundle links them without this module's workers); re-exported for existing importers.
export {
  type ExportSplit,
  heapThreadsOf,
  MIN_PARALLEL_WORK,
  setHeapThreads,
  splitExports,
} from "./kernel_split.ts";

/** The most kernel threads (the main thread included) a call is split over. */
export const MAX_KERNEL_THREADS = 8;

/**
 * A thread count from the environment variable `variable`'s `value`: `off`, `0` or `1` mean
 * one thread; `auto` every core (`cores`); a number that many; unset or empty, `unset`'s
 * meaning. The result lies in 1..`max`.
 *
 * @example
 * ```ts
 * threadCountFromEnv("MOPEFT_KERNEL_THREADS", undefined, 2, "auto", 8); // 2
 * threadCountFromEnv("MOPEFT_KERNEL_THREADS", "off", 2, "auto", 8); // 1
 * ```
 */
export function threadCountFromEnv(
  variable: string,
  value: string | undefined,
  cores: number,
  unset: "auto" | "off",
  max: number,
): number {
  let text = (value ?? "").trim().toLowerCase();
  if (text === "") text = unset;
  if (text === "off" || text === "0") return 1;
  const wanted = text === "auto" ? cores : Number(text);
  if (!Number.isInteger(wanted) || wanted < 1) {
    throw new Error(`${variable} must be off, auto or a whole number, not "${value}"`);
  }
  return Math.min(wanted, max);
}

// The control block, per worker: Int32 slots, then the arguments as float64 (i32 pointers above
// 2^31 and f32 bit patterns both survive a float64 exactly).
const REQUEST = 0;
const DONE = 1;
const OPERATION = 2;
const MODULE = 3;
const EXPORT = 4;
const ARGUMENT_COUNT = 5;
const FAILED = 6;
const ARGUMENTS_AT = 64;
const MAX_ARGUMENTS = 20;
const CONTROL_BYTES = ARGUMENTS_AT + MAX_ARGUMENTS * 8;
const MAILBOX_BYTES = 1 << 18;
const CALL = 1;
const LOAD = 2;
const LOAD_BLAS = 3;
const PRODUCTS = 4;
// A worker that has not answered in this long is taken to be lost.
const WAIT_MS = 120_000;

// The worker's whole program; runs as a module of its own (its source is sent as a data: URL).
function serve(
  data: { memory: WebAssembly.Memory; control: SharedArrayBuffer; mailbox: SharedArrayBuffer },
  port: { postMessage(message: unknown): void },
  layout: readonly number[],
): void {
  const [
    request,
    done,
    operation,
    module,
    exportAt,
    argumentCount,
    failed,
    argumentsAt,
    load,
    loadBlas,
    products,
  ] = layout as number[];
  const control = new Int32Array(data.control);
  const args = new Float64Array(data.control, argumentsAt);
  const mailbox = new Uint8Array(data.mailbox);
  const modules: ((...values: number[]) => void)[][] = [];
  type Sgemm = (...values: (number | Float32Array)[]) => void;
  let sgemm: Sgemm | undefined;
  port.postMessage("ready");
  let seen = 0;
  for (;;) {
    Atomics.wait(control, request!, seen);
    const sequence = Atomics.load(control, request!);
    if (sequence === seen) continue;
    seen = sequence;
    let status = 0;
    try {
      const op = control[operation!];
      if (op === load) {
        const bytes = mailbox.slice(0, control[argumentCount!]);
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
          env: { memory: data.memory },
        });
        modules.push(Object.values(instance.exports) as ((...values: number[]) => void)[]);
      } else if (op === loadBlas) {
        const { path, symbol } = JSON.parse(
          new TextDecoder().decode(mailbox.slice(0, control[argumentCount!])),
        );
        // deno-lint-ignore no-explicit-any
        sgemm = (Deno.dlopen(path, { cblas_sgemm: symbol }).symbols as any).cblas_sgemm;
      } else if (op === products) {
        // Batch entries of one product: the pointers advance by their strides (bytes) per entry.
        const [a, b, c, entries, aStride, bStride, cStride, order, transA, transB, m, n, k] = args;
        const [lda, ldb, ldc, beta] = args.subarray(13, 17);
        const heap = data.memory.buffer;
        for (let entry = 0; entry < entries!; entry++) {
          sgemm!(
            order!,
            transA!,
            transB!,
            m!,
            n!,
            k!,
            1,
            new Float32Array(heap, a! + entry * aStride!),
            lda!,
            new Float32Array(heap, b! + entry * bStride!),
            ldb!,
            beta!,
            new Float32Array(heap, c! + entry * cStride!),
            ldc!,
          );
        }
      } else {
        const fn = modules[control[module!]!]![control[exportAt!]!]!;
        fn(...Array.from(args.subarray(0, control[argumentCount!])));
      }
    } catch (error) {
      // The reason, for the main thread's error (the mailbox is free again once a call ends).
      const reason = new TextEncoder().encode(String((error as Error)?.message ?? error));
      status = 1 + Math.min(reason.length, mailbox.length);
      mailbox.set(reason.subarray(0, status - 1));
    }
    control[failed!] = status;
    Atomics.store(control, done!, sequence);
    Atomics.notify(control, done!);
  }
}

const LAYOUT = [
  REQUEST,
  DONE,
  OPERATION,
  MODULE,
  EXPORT,
  ARGUMENT_COUNT,
  FAILED,
  ARGUMENTS_AT,
  LOAD,
  LOAD_BLAS,
  PRODUCTS,
];
const WORKER_URL = "data:text/javascript," + encodeURIComponent(
  `import { parentPort, workerData } from "node:worker_threads";\n` +
    `(${serve.toString()})(workerData, parentPort, ${JSON.stringify(LAYOUT)});\n`,
);

interface Worker {
  control: Int32Array;
  args: Float64Array;
  sequence: number;
}

/** Worker threads over one shared heap. */
export class HeapThreads {
  /** Threads a call is split over, the main thread included. */
  readonly threads: number;
  /** Parts of calls the workers have run so far. */
  workerParts = 0;
  readonly #workers: Worker[];
  readonly #mailbox: Uint8Array;
  #modules = 0;
  #blas = false;

  private constructor(workers: Worker[], mailbox: SharedArrayBuffer) {
    this.#workers = workers;
    this.#mailbox = new Uint8Array(mailbox);
    this.threads = workers.length + 1;
  }

  /**
   * Starts `threads - 1` workers over `memory` (a shared `WebAssembly.Memory`) and resolves once
   * each runs; rejects when one fails to start within `timeoutMs`.
   */
  static async start(
    memory: WebAssembly.Memory,
    threads: number,
    timeoutMs = 30_000,
  ): Promise<HeapThreads> {
    if (!(memory.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError("kernel threads need a shared WebAssembly.Memory");
    }
    const mailbox = new SharedArrayBuffer(MAILBOX_BYTES);
    const started: workerThreads.Worker[] = [];
    const workers: Worker[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const ready = Array.from({ length: threads - 1 }, () => {
        const control = new SharedArrayBuffer(CONTROL_BYTES);
        const worker = new workerThreads.Worker(new URL(WORKER_URL), {
          workerData: { memory, control, mailbox },
        });
        started.push(worker);
        workers.push({
          control: new Int32Array(control),
          args: new Float64Array(control, ARGUMENTS_AT, MAX_ARGUMENTS),
          sequence: 0,
        });
        return new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
          worker.once("exit", (code) => reject(new Error(`a kernel thread exited (${code})`)));
        });
      });
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`kernel threads did not start within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      await Promise.race([Promise.all(ready), timedOut]);
    } catch (error) {
      for (const worker of started) worker.terminate();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    // Blocked in Atomics.wait between calls, they must never hold the process open.
    for (const worker of started) {
      worker.removeAllListeners();
      worker.unref();
    }
    return new HeapThreads(workers, mailbox);
  }

  /** Loads `bytes` (a module importing `env.memory`) in every worker; returns its module index. */
  load(bytes: Uint8Array): number {
    if (bytes.length > this.#mailbox.length) {
      throw new RangeError(`a kernel module of ${bytes.length} bytes does not fit the mailbox`);
    }
    this.#mailbox.set(bytes);
    for (const worker of this.#workers) this.#post(worker, LOAD, 0, 0, [], bytes.length);
    for (const worker of this.#workers) this.#wait(worker);
    return this.#modules++;
  }

  /**
   * Runs export `exportIndex` of module `moduleIndex` with `parts[i]` on worker `i`, then `last`
   * here, and returns once every worker is done.
   */
  run(moduleIndex: number, exportIndex: number, parts: readonly number[][], last: () => void) {
    this.#split(CALL, moduleIndex, exportIndex, parts, last);
  }

  /** Whether the workers have a CBLAS library open ({@link loadBlas}). */
  get hasBlas(): boolean {
    return this.#blas;
  }

  /**
   * Opens `cblas_sgemm` of the library `path` (with the signature `symbol`) in every worker, for
   * {@link runProducts}.
   */
  loadBlas(path: string, symbol: unknown): void {
    const bytes = new TextEncoder().encode(JSON.stringify({ path, symbol }));
    this.#mailbox.set(bytes);
    for (const worker of this.#workers) this.#post(worker, LOAD_BLAS, 0, 0, [], bytes.length);
    for (const worker of this.#workers) this.#wait(worker);
    this.#blas = true;
  }

  /**
   * Runs batch entries of a product on the workers, `parts[i]` on worker `i`: byte offsets of
   * the first entry's A, B and C in the heap, the entry count, the three strides (bytes per
   * entry), then `cblas_sgemm`'s order, transA, transB, M, N, K, lda, ldb, ldc and beta; then
   * `last` here, and returns once every worker is done.
   */
  runProducts(parts: readonly number[][], last: () => void): void {
    if (!this.#blas) throw new Error("the kernel threads have no BLAS library open");
    this.#split(PRODUCTS, 0, 0, parts, last);
  }

  #split(
    operation: number,
    moduleIndex: number,
    exportIndex: number,
    parts: readonly number[][],
    last: () => void,
  ): void {
    const posted = this.#workers.slice(0, parts.length);
    posted.forEach((worker, i) =>
      this.#post(worker, operation, moduleIndex, exportIndex, parts[i]!)
    );
    this.workerParts += posted.length;
    try {
      last();
    } finally {
      for (const worker of posted) this.#wait(worker);
    }
  }

  #post(
    worker: Worker,
    operation: number,
    moduleIndex: number,
    exportIndex: number,
    args: readonly number[],
    count = args.length,
  ): void {
    if (args.length > MAX_ARGUMENTS) throw new RangeError(`more than ${MAX_ARGUMENTS} arguments`);
    worker.args.set(args);
    const control = worker.control;
    control[OPERATION] = operation;
    control[MODULE] = moduleIndex;
    control[EXPORT] = exportIndex;
    control[ARGUMENT_COUNT] = count;
    worker.sequence++;
    Atomics.store(control, REQUEST, worker.sequence);
    Atomics.notify(control, REQUEST);
  }

  #wait(worker: Worker): void {
    const control = worker.control;
    const deadline = performance.now() + WAIT_MS;
    for (;;) {
      const done = Atomics.load(control, DONE);
      if (done === worker.sequence) break;
      if (performance.now() > deadline) throw new Error("a kernel thread stopped answering");
      Atomics.wait(control, DONE, done, 1000);
    }
    const failed = control[FAILED]!;
    if (failed !== 0) {
      const reason = new TextDecoder().decode(this.#mailbox.slice(0, failed - 1));
      throw new Error(`a kernel thread failed: ${reason}`);
    }
  }
}
