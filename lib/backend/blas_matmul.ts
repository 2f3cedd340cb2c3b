/**
 * Routing tfjs's `BatchMatMul` and `_FusedMatMul` kernels on the wasm and cpu backends to a native
 * CBLAS `sgemm`.
 *
 * The kernels are replaced in tfjs's registry, so every product goes native: the model's
 * `tf.matMul` calls and the products inside tfjs's own gradients alike. A fused product's bias is
 * written into the output first and `sgemm` adds the product onto it, which saves the separate
 * pass over the output that an `add` would take. It reads the operands
 * where the backend keeps them (the wasm heap, or the cpu backend's typed arrays) and has `sgemm`
 * write straight into the output tensor's memory: no copies, and transposed or batched operands
 * cost nothing extra (`sgemm` takes transposes as flags and leading dimensions).
 *
 * Anything the replacements do not handle (non-float32 operands, fused activations, a bias that is
 * not one value per output column) goes to the backend's own kernel.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { type Blas, SGEMM_SYMBOL, sgemmArguments } from "./blas.ts";
import { type HeapThreads, heapThreadsOf } from "./heap_threads.ts";
import { wasmHeapOf } from "./wasm_heap_module.ts";
import { setBlasFor } from "./blas_registry.ts";
import {
  type HostBackendName,
  type HostMemory,
  hostMemory,
  type TensorInfo,
} from "./host_memory.ts";

export type { HostBackendName };
export { blasFor } from "./blas_registry.ts";

interface KernelArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: unknown;
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string };
}

/** The kernels this module replaces. */
const KERNELS = ["BatchMatMul", "_FusedMatMul"] as const;

const installed = new Map<HostBackendName, { blas: Blas; originals: tf.KernelConfig[] }>();

function size(shape: readonly number[]): number {
  return shape.reduce((product, d) => product * d, 1);
}

/**
 * For each entry of the broadcast batch shape, the batch entry of an operand with batch shape
 * `shape` (broadcasting size-1 axes the way `tf.matMul` does).
 */
function batchIndices(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const total = size(outShape);
  const indices = new Int32Array(total);
  const padded = [...new Array(outShape.length - shape.length).fill(1), ...shape];
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let index = 0;
    let stride = 1;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      const coordinate = rest % outShape[axis]!;
      rest = Math.floor(rest / outShape[axis]!);
      const extent = padded[axis]!;
      index += (extent === 1 ? 0 : coordinate) * stride;
      stride *= extent;
    }
    indices[flat] = index;
  }
  return indices;
}

/**
 * Entries of a batched product at most this large (multiply-adds) run one per thread, each
 * thread's library single-threaded: OpenBLAS splitting a 196 x 196 x 64 product (a vit_b window's
 * attention) over two threads ran at 35-55 GFLOP/s, one thread alone at 58-62.
 */
export const SMALL_ENTRY = 8 * 2 ** 20;

/**
 * Batches with fewer multiply-adds than this in all stay on this thread: waking a worker costs
 * tens of microseconds, as long as about 4 M multiply-adds take (a small model's products).
 */
export const MIN_SPLIT_BATCH = 4 * 2 ** 20;

// Whether a workers' copy of each library could be opened, per kernel-thread pool.
const workersOpened = new WeakMap<HeapThreads, boolean>();

/**
 * The kernel threads to split a batch of `batch` products of `entry` multiply-adds each over:
 * only on the wasm backend's shared heap, for batches of small entries, with a library that can
 * run single-threaded and opens in the workers.
 */
function splitThreads(
  blas: Blas,
  backend: unknown,
  batch: number,
  entry: number,
): HeapThreads | undefined {
  if (!blas.singleThreaded || entry > SMALL_ENTRY || batch * entry < MIN_SPLIT_BATCH) {
    return undefined;
  }
  const memory = wasmHeapOf(backend);
  const threads = memory && heapThreadsOf(memory);
  if (!threads || batch < threads.threads) return undefined;
  if (!workersOpened.has(threads)) {
    try {
      if (!threads.hasBlas) threads.loadBlas(blas.path, SGEMM_SYMBOL);
      workersOpened.set(threads, true);
    } catch {
      workersOpened.set(threads, false);
    }
  }
  return workersOpened.get(threads) ? threads : undefined;
}

/** Values between an operand's batch entries: whole, or 0 when one entry is broadcast. */
function entryStride(shape: readonly number[], batch: number, entrySize: number) {
  const entries = size(shape);
  if (entries === batch) return entrySize;
  return entries === 1 ? 0 : undefined;
}

function multiply(blas: Blas, args: KernelArgs, { read, allocate }: HostMemory): TensorInfo {
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const rows = a.shape[transposeA ? aRank - 1 : aRank - 2]!;
  const inner = a.shape[transposeA ? aRank - 2 : aRank - 1]!;
  const innerB = b.shape[transposeB ? bRank - 1 : bRank - 2]!;
  const cols = b.shape[transposeB ? bRank - 2 : bRank - 1]!;
  if (inner !== innerB) {
    throw new Error(
      `Error in matMul: inner shapes (${inner}) and (${innerB}) of Tensors with shapes ` +
        `${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} ` +
        `must match.`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const batch = size(batchShape);
  const output = allocate([...batchShape, rows, cols]);
  const outSize = rows * cols;
  if (batch * outSize === 0) return output.info;
  // Views are taken after the output is allocated: allocating may grow the wasm heap, which
  // detaches every earlier view of it.
  const c = output.values();
  const bias = args.inputs.bias && read(args.inputs.bias);
  if (bias) {
    if (bias.length === 1) c.fill(bias[0]!);
    else for (let row = 0; row < batch * rows; row++) c.set(bias, row * cols);
  } else if (inner === 0) {
    c.fill(0);
  }
  if (inner === 0) return output.info;
  const aValues = read(a);
  const bValues = read(b);
  const aSize = rows * inner;
  const bSize = inner * cols;
  // One batch entry's product, its operands starting at those values.
  const entryProduct = (entry: number, aStart: number, bStart: number) =>
    blas.sgemm(
      aValues.subarray(aStart, aStart + aSize),
      bValues.subarray(bStart, bStart + bSize),
      c.subarray(entry * outSize, (entry + 1) * outSize),
      rows,
      inner,
      cols,
      transposeA,
      transposeB,
      bias !== undefined,
    );
  const threads = splitThreads(blas, args.backend, batch, rows * inner * cols);
  const aStride = entryStride(batchA, batch, aSize);
  const bStride = entryStride(batchB, batch, bSize);
  if (threads && aStride !== undefined && bStride !== undefined) {
    // Entries by thread: the first shares go to the workers, the last one is this thread's.
    const share = Math.ceil(batch / threads.threads);
    const scalars = sgemmArguments(rows, inner, cols, transposeA, transposeB, bias !== undefined);
    const parts: number[][] = [];
    for (let start = 0; start + share < batch; start += share) {
      parts.push([
        aValues.byteOffset + start * aStride * 4,
        bValues.byteOffset + start * bStride * 4,
        c.byteOffset + start * outSize * 4,
        share,
        aStride * 4,
        bStride * 4,
        outSize * 4,
        ...scalars,
      ]);
    }
    const mine = parts.length * share;
    blas.singleThreaded!(() =>
      threads.runProducts(parts, () => {
        for (let entry = mine; entry < batch; entry++) {
          entryProduct(entry, entry * aStride, entry * bStride);
        }
      })
    );
    return output.info;
  }
  const aIndex = batchIndices(batchA, batchShape);
  const bIndex = batchIndices(batchB, batchShape);
  for (let entry = 0; entry < batch; entry++) {
    entryProduct(entry, aIndex[entry]! * aSize, bIndex[entry]! * bSize);
  }
  return output.info;
}

/** Whether the native kernels take these arguments (else tfjs's own kernel runs). */
function nativeCanRun(args: KernelArgs): boolean {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  if (a.dtype !== "float32" || b.dtype !== "float32") return false;
  if ((args.attrs.activation ?? "linear") !== "linear" || preluActivationWeights) return false;
  if (!bias) return true;
  const cols = b.shape[args.attrs.transposeB ? b.shape.length - 2 : b.shape.length - 1]!;
  const biasSize = size(bias.shape);
  return bias.dtype === "float32" && bias.shape.length <= 1 &&
    (biasSize === 1 || biasSize === cols);
}

/**
 * Replaces `BatchMatMul` and `_FusedMatMul` on `backend` with kernels that call `blas`.
 * Idempotent per backend; the backend must have started (its own kernels stay in use for what the
 * native ones do not take).
 *
 * @example
 * ```ts ignore
 * const { blas } = openBlas({ kind: "search" });
 * if (blas) installBlasMatMul(blas, "wasm");
 * ```
 */
export function installBlasMatMul(blas: Blas, backend: HostBackendName): void {
  if (installed.has(backend)) return;
  const originals = KERNELS.map((kernelName) => {
    const original = tf.getKernel(kernelName, backend);
    if (!original) throw new Error(`tfjs has no ${kernelName} kernel for the ${backend} backend`);
    return original;
  });
  for (const original of originals) {
    tf.unregisterKernel(original.kernelName, backend);
    tf.registerKernel({
      kernelName: original.kernelName,
      backendName: backend,
      kernelFunc: (args) => {
        const kernelArgs = args as unknown as KernelArgs;
        if (!nativeCanRun(kernelArgs)) return original.kernelFunc(args);
        const memory = hostMemory(backend, kernelArgs.backend);
        return multiply(blas, kernelArgs, memory) as ReturnType<typeof original.kernelFunc>;
      },
    });
  }
  installed.set(backend, { blas, originals });
  setBlasFor(backend, blas);
}

/** Gives the products on `backend` back to tfjs's own kernels (for tests and comparisons). */
export function uninstallBlasMatMul(backend: HostBackendName): void {
  const entry = installed.get(backend);
  if (!entry) return;
  for (const original of entry.originals) {
    tf.unregisterKernel(original.kernelName, backend);
    tf.registerKernel(original);
  }
  installed.delete(backend);
  setBlasFor(backend, undefined);
}
