/**
 * An `Identity` kernel for the wasm backend that shares its input's memory instead of copying it.
 *
 * tfjs keeps every tensor a gradient needs by cloning it (`Engine.saveTensorsForBackwardMode`
 * runs `Identity` on it), and tfjs-backend-wasm 4.22's `Identity` copies the data, where the cpu
 * and webgpu backends only add a reference. While a training step records its tape, every frozen
 * weight that enters a matrix product is therefore copied once per use: 1.2 GB for vit_b, which
 * is what pushed vit_b training past the wasm heap's 4 GiB even at 128 px. tfjs tensors are
 * immutable (a variable's `assign` swaps in new data rather than writing into the old), so
 * sharing is safe; the wasm backend's own `Reshape` shares memory the same way.
 *
 * @module
 */
import { tf } from "./tf.ts";

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** The wasm backend's reference counting, as its `Reshape` kernel uses it. */
interface RefCountingBackend {
  incRef(dataId: object): void;
}

let installed = false;

/**
 * Replaces `Identity` on the wasm backend (once per process) with a kernel that adds a reference
 * to its input's memory. String tensors keep tfjs's own kernel.
 *
 * @example
 * ```ts ignore
 * await tf.setBackend("wasm");
 * shareIdentityOnWasm();
 * ```
 */
export function shareIdentityOnWasm(): void {
  if (installed) return;
  const original = tf.getKernel("Identity", "wasm");
  if (!original) throw new Error("tfjs has no Identity kernel for the wasm backend");
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { x } = args.inputs as unknown as { x: TensorInfo };
      if (x.dtype === "string") return original.kernelFunc(args);
      (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype } as ReturnType<
        typeof original.kernelFunc
      >;
    },
  });
  installed = true;
}
