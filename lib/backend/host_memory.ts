/**
 * Reading and allocating float32 tensor memory directly on the two backends that keep tensors in
 * CPU memory (wasm: its heap; cpu: typed arrays), for kernels written in TypeScript or handed to
 * native code (`blas_matmul.ts`, the fused GELU in `lib/nn/gelu.ts`).
 *
 * @module
 */

/** The backends whose tensors live in CPU memory. */
export type HostBackendName = "wasm" | "cpu";

/** A tfjs kernel's view of a tensor. */
export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** The wasm backend's internals used here (tfjs-backend-wasm 4.22). */
interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** The cpu backend's internals used here (tfjs-backend-cpu 4.22). */
interface CpuBackendInternals {
  data: { get(dataId: object): { values?: unknown } };
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): TensorInfo;
}

/** Float32 access to one host backend's tensors. */
export interface HostMemory {
  /** The values of a float32 tensor, without a copy where the backend allows. */
  read(info: TensorInfo): Float32Array;
  /**
   * A new float32 output tensor. Its `values()` must be taken after every allocation of the
   * kernel: on wasm an allocation may grow the heap, which detaches earlier views of it.
   */
  allocate(shape: number[]): { info: TensorInfo; values: () => Float32Array };
}

function size(shape: readonly number[]): number {
  return shape.reduce((product, d) => product * d, 1);
}

/** Float32 access to the tensors of `backend` (a kernel's `args.backend`) named `name`. */
export function hostMemory(name: HostBackendName, backend: unknown): HostMemory {
  if (name === "wasm") {
    const wasm = backend as WasmBackendInternals;
    return {
      read: (info) => wasm.typedArrayFromHeap(info),
      allocate: (shape) => {
        const info = wasm.makeOutput(shape, "float32");
        return { info, values: () => wasm.typedArrayFromHeap(info) };
      },
    };
  }
  const cpu = backend as CpuBackendInternals;
  return {
    read: (info) => {
      const values = cpu.data.get(info.dataId).values ?? cpu.readSync(info.dataId);
      return values instanceof Float32Array
        ? values
        : Float32Array.from(values as ArrayLike<number>);
    },
    allocate: (shape) => {
      const values = new Float32Array(size(shape));
      return { info: cpu.makeTensorInfo(shape, "float32", values), values: () => values };
    },
  };
}
