/**
 * `Slice`, `SplitV` and `Unpack` kernels for the wasm backend that read their input in place.
 *
 * tfjs-backend-wasm 4.22's `Slice` starts with `backend.readSync(x)`, which copies the whole
 * input out of the wasm heap, before it copies the slice it wants; `SplitV` and `Unpack` call it
 * once per output. Taking one query block of a vit_b global block's `[12, 4096, 64]` queries cost
 * 18 ms that way, and slices were a fifth of the encoder's forward time once products ran
 * natively. These kernels view the heap instead and copy only the slice.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { hostMemory, type TensorInfo } from "./host_memory.ts";

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) {
    strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  }
  return strides;
}

/**
 * Copies `x[begin : begin + size]` into a new tensor, one contiguous run of the innermost axes at
 * a time.
 */
function sliceInPlace(
  backend: unknown,
  x: TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): TensorInfo {
  const memory = hostMemory("wasm", backend);
  const output = memory.allocate([...size]);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return output.info;
  // Views after the allocation, which may have grown (and so detached) the heap.
  const out = output.values();
  const input = memory.read(x);
  if (size.length === 0) {
    out[0] = input[0]!;
    return output.info;
  }
  const strides = stridesOf(x.shape);
  // The innermost axes that are taken whole, plus the one before them, form contiguous runs.
  let innermost = size.length - 1;
  while (innermost > 0 && size[innermost] === x.shape[innermost]) innermost--;
  const run = size[innermost]! * strides[innermost]!;
  const outer = total / run;
  const index = new Array<number>(innermost).fill(0);
  for (let chunk = 0; chunk < outer; chunk++) {
    let offset = begin[innermost]! * strides[innermost]!;
    for (let axis = 0; axis < innermost; axis++) {
      offset += (begin[axis]! + index[axis]!) * strides[axis]!;
    }
    out.set(input.subarray(offset, offset + run), chunk * run);
    for (let axis = innermost - 1; axis >= 0; axis--) {
      if (++index[axis]! < size[axis]!) break;
      index[axis] = 0;
    }
  }
  return output.info;
}

let installed = false;

/**
 * Replaces `Slice`, `SplitV` and `Unpack` on the wasm backend (once per process) with kernels
 * that read the input in place. Other dtypes than float32 keep tfjs's own kernels.
 *
 * @example
 * ```ts ignore
 * await tf.setBackend("wasm");
 * sliceInPlaceOnWasm();
 * ```
 */
export function sliceInPlaceOnWasm(): void {
  if (installed) return;
  const replace = (
    kernelName: string,
    kernel: (
      args: { inputs: Record<string, TensorInfo>; attrs: tf.NamedAttrMap; backend: unknown },
    ) => TensorInfo | TensorInfo[],
    input: string,
  ) => {
    const original = tf.getKernel(kernelName, "wasm");
    if (!original) throw new Error(`tfjs has no ${kernelName} kernel for the wasm backend`);
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: (args) => {
        const x = (args.inputs as unknown as Record<string, TensorInfo>)[input]!;
        if (x.dtype !== "float32") return original.kernelFunc(args);
        return kernel(args as never) as ReturnType<typeof original.kernelFunc>;
      },
    });
  };
  replace("Slice", ({ inputs: { x }, attrs, backend }) => {
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as unknown as tf.TensorInfo,
      attrs.begin as number[],
      attrs.size as number[],
    );
    return sliceInPlace(backend, x!, begin!, size!);
  }, "x");
  replace("SplitV", ({ inputs: { x }, attrs, backend }) => {
    const axis = tf.util.parseAxisParam(attrs.axis as number, x!.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(
      x as unknown as tf.Tensor,
      attrs.numOrSizeSplits as number[] | number,
      axis,
    );
    const begin = new Array<number>(x!.shape.length).fill(0);
    return sizes.map((part) => {
      const size = [...x!.shape];
      size[axis] = part;
      const out = sliceInPlace(backend, x!, begin, size);
      begin[axis]! += part;
      return out;
    });
  }, "x");
  replace("Unpack", ({ inputs: { value }, attrs, backend }) => {
    const rank = value!.shape.length;
    const axis = ((attrs.axis as number) + rank) % rank;
    const outShape = value!.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = [...value!.shape];
    size[axis] = 1;
    return Array.from({ length: value!.shape[axis]! }, (_, i) => {
      begin[axis] = i;
      const out = sliceInPlace(backend, value!, begin, size);
      return { ...out, shape: outShape };
    });
  }, "value");
  installed = true;
}
