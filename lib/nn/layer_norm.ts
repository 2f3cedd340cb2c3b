/**
 * Layer normalisation over the last axis.
 *
 * On the wasm backend (float32, a last axis that is a multiple of 4) it is one kernel
 * (`layer_norm_simd.ts`) whose gradient keeps only the input; elsewhere tfjs ops, with
 * `frozenLayerNorm` (lean_ops.ts) keeping only the input too when weight and bias are frozen.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { wasmHeapModule } from "../backend/wasm_heap_module.ts";
import { hostMemory, type TensorInfo } from "../backend/host_memory.ts";
import { frozenLayerNorm, isFrozen } from "./lean_ops.ts";
import { type LayerNormSimd, layerNormSimd } from "./layer_norm_simd.ts";

const LAYER_NORM_KERNEL = "MopeftLayerNorm";
const LAYER_NORM_GRADIENT_KERNEL = "MopeftLayerNormGradient";

/** The SIMD loops over the wasm backend's heap, or undefined where they cannot run. */
function simdFor(backend: unknown): LayerNormSimd | undefined {
  return wasmHeapModule(backend, layerNormSimd);
}

/** Rows and width of `x` over its last axis. */
function rowsOf(shape: readonly number[]): { rows: number; width: number } {
  const width = shape[shape.length - 1]!;
  return { rows: shape.reduce((a, b) => a * b, 1) / width, width };
}

tf.registerKernel({
  kernelName: LAYER_NORM_KERNEL,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as unknown as Record<string, TensorInfo>;
    const { eps } = attrs as unknown as { eps: number };
    const memory = hostMemory("wasm", backend);
    const output = memory.allocate(x!.shape);
    const { rows, width } = rowsOf(x!.shape);
    const [xs, gammas, betas, out] = [
      memory.read(x!),
      memory.read(gamma!),
      memory.read(beta!),
      output.values(),
    ];
    simdFor(backend)!.layerNorm(
      xs.byteOffset,
      gammas.byteOffset,
      betas.byteOffset,
      out.byteOffset,
      rows,
      width,
      eps,
    );
    return output.info as ReturnType<tf.KernelFunc>;
  },
});

tf.registerKernel({
  kernelName: LAYER_NORM_GRADIENT_KERNEL,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, gamma, dy } = inputs as unknown as Record<string, TensorInfo>;
    const { eps } = attrs as unknown as { eps: number };
    const memory = hostMemory("wasm", backend);
    const output = memory.allocate(x!.shape);
    const { rows, width } = rowsOf(x!.shape);
    const [xs, gammas, dys, dx] = [
      memory.read(x!),
      memory.read(gamma!),
      memory.read(dy!),
      output.values(),
    ];
    simdFor(backend)!.layerNormGradient(
      xs.byteOffset,
      gammas.byteOffset,
      dys.byteOffset,
      dx.byteOffset,
      rows,
      width,
      eps,
    );
    return output.info as ReturnType<tf.KernelFunc>;
  },
});

/** `x̂ = (x - mean) / sqrt(var + eps)` over the last axis, with tfjs ops. */
function normalised(x: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const axis = x.shape.length - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  });
}

tf.registerGradient({
  kernelName: LAYER_NORM_KERNEL,
  // Only the input (and the weight, which is a variable anyway): the backward kernel recomputes
  // the row statistics, which costs less than keeping them.
  inputsToSave: ["x", "gamma"],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma] = saved as [Tensor, Tensor];
    const { eps } = attrs as unknown as { eps: number };
    const rowAxes = x.shape.slice(0, -1).map((_, i) => i);
    return {
      x: () =>
        tf.engine().runKernel(LAYER_NORM_GRADIENT_KERNEL, { x, gamma, dy: dy as Tensor }, {
          eps,
        }) as Tensor,
      // Asked for only when the weight and bias train (tfjs prunes frozen inputs from the tape).
      gamma: () => tf.tidy(() => tf.sum(tf.mul(dy as Tensor, normalised(x, eps)), rowAxes)),
      beta: () => tf.sum(dy as Tensor, rowAxes),
    };
  },
});

/** Whether the SIMD kernel takes this layer norm. */
function simdTakes(x: Tensor, weight: Tensor, bias: Tensor): boolean {
  return tf.getBackend() === "wasm" && x.dtype === "float32" && weight.dtype === "float32" &&
    bias.dtype === "float32" && weight.rank === 1 && bias.rank === 1 &&
    x.shape[x.shape.length - 1]! % 4 === 0 && simdFor(tf.backend()) !== undefined;
}

/**
 * Normalises `x` over its last axis and applies the affine `weight` and `bias`. SAM's encoder and
 * every LayerNorm2d (applied here to channel-last tensors) use `eps = 1e-6`; the decoder's
 * two-way transformer uses PyTorch's default `1e-5`.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const y = layerNorm(tf.tensor2d([[1, 2, 3]]), tf.ones([3]), tf.zeros([3]), 1e-6);
 * y.shape; // [1, 3]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  if (simdTakes(x, weight, bias)) {
    return tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma: weight, beta: bias }, {
      eps,
    }) as Tensor;
  }
  // Frozen (the encoder's, under PEFT): the backward pass keeps only x.
  if (isFrozen(weight) && isFrozen(bias)) return frozenLayerNorm(x, weight, bias, eps);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, x.shape.length - 1, true);
    const normalisedX = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normalisedX, weight), bias);
  });
}
