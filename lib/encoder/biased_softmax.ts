/**
 * The softmax of attention logits with SAM's decomposed relative-position biases added to their
 * spatial part, and its backward step, as the chunked attention (`chunked_attention.ts`) takes
 * them per block of query rows: one SIMD kernel each on the wasm backend
 * (`attention_simd.ts`), tfjs ops elsewhere.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { wasmHeapModule } from "../backend/wasm_heap_module.ts";
import { hostMemory, type TensorInfo } from "../backend/host_memory.ts";
import { leanAdd, leanConcat, leanReshape } from "../nn/lean_ops.ts";
import { type AttentionSimd, attentionSimd } from "./attention_simd.ts";

const FORWARD_KERNEL = "MopeftBiasedSoftmax";
const BACKWARD_KERNEL = "MopeftBiasedSoftmaxBackward";
const STATS_KERNEL = "MopeftBiasedSoftmaxStats";
const EXP_KERNEL = "MopeftBiasedExp";

/** The SIMD loops over the wasm backend's heap, or undefined where they cannot run. */
function simdFor(backend: unknown): AttentionSimd | undefined {
  return wasmHeapModule(backend, attentionSimd);
}

interface Layout {
  h: number;
  w: number;
}

function layoutOf(logits: { shape: number[] }, { h, w }: Layout) {
  const [rows, total] = logits.shape as [number, number];
  return { rows, prefix: total - h * w };
}

/** The forward kernel, with or without the rows' statistics as a second output. */
function forwardKernel(withStats: boolean): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { logits, biasH, biasW } = inputs as unknown as Record<string, TensorInfo>;
    const { h, w } = attrs as unknown as Layout;
    const { rows, prefix } = layoutOf(logits!, { h, w });
    const memory = hostMemory("wasm", backend);
    const output = memory.allocate(logits!.shape);
    const stats = withStats ? memory.allocate([rows, 2]) : undefined;
    // Views after the allocations: they may grow the heap.
    const [x, bh, bw] = [memory.read(logits!), memory.read(biasH!), memory.read(biasW!)];
    simdFor(backend)!.biasedSoftmax(
      x.byteOffset,
      bh.byteOffset,
      bw.byteOffset,
      output.values().byteOffset,
      rows,
      prefix,
      h,
      w,
      stats ? stats.values().byteOffset : 0,
      stats ? 1 : 0,
    );
    return (stats ? [output.info, stats.info] : output.info) as ReturnType<tf.KernelFunc>;
  };
}

tf.registerKernel({
  kernelName: FORWARD_KERNEL,
  backendName: "wasm",
  kernelFunc: forwardKernel(false),
});
tf.registerKernel({
  kernelName: STATS_KERNEL,
  backendName: "wasm",
  kernelFunc: forwardKernel(true),
});

tf.registerKernel({
  kernelName: BACKWARD_KERNEL,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { p, dP, delta } = inputs as unknown as Record<string, TensorInfo>;
    const { h, w } = attrs as unknown as Layout;
    const { rows, prefix } = layoutOf(p!, { h, w });
    const memory = hostMemory("wasm", backend);
    const dS = memory.allocate(p!.shape);
    const dBiasH = memory.allocate([rows, h]);
    const dBiasW = memory.allocate([rows, w]);
    // Without a delta input the kernel computes it from the row.
    const [ps, dps] = [memory.read(p!), memory.read(dP!)];
    const deltaOffset = delta ? memory.read(delta).byteOffset : 0;
    simdFor(backend)!.softmaxBackward(
      ps.byteOffset,
      dps.byteOffset,
      deltaOffset,
      dS.values().byteOffset,
      dBiasH.values().byteOffset,
      dBiasW.values().byteOffset,
      rows,
      prefix,
      h,
      w,
      delta ? 0 : 1,
    );
    return [dS.info, dBiasH.info, dBiasW.info] as ReturnType<tf.KernelFunc>;
  },
});

tf.registerKernel({
  kernelName: EXP_KERNEL,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { logits, biasH, biasW, stats } = inputs as unknown as Record<string, TensorInfo>;
    const { h, w } = attrs as unknown as Layout;
    const { rows, prefix } = layoutOf(logits!, { h, w });
    const memory = hostMemory("wasm", backend);
    const output = memory.allocate(logits!.shape);
    const [x, bh, bw, st] = [
      memory.read(logits!),
      memory.read(biasH!),
      memory.read(biasW!),
      memory.read(stats!),
    ];
    simdFor(backend)!.biasedExp(
      x.byteOffset,
      bh.byteOffset,
      bw.byteOffset,
      st.byteOffset,
      output.values().byteOffset,
      rows,
      prefix,
      h,
      w,
    );
    return output.info as ReturnType<tf.KernelFunc>;
  },
});

tf.registerGradient({
  kernelName: FORWARD_KERNEL,
  // Only the probabilities, as tfjs's softmax keeps: the logits and biases are not needed.
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [p] = saved as [Tensor];
    // One pass gives all three gradients; tfjs asks for those of the inputs on the tape.
    const [dLogits, dBiasH, dBiasW] = tf.engine().runKernel(
      BACKWARD_KERNEL,
      { p, dP: dy as Tensor },
      attrs as unknown as tf.NamedAttrMap,
    ) as unknown as [Tensor, Tensor, Tensor];
    return { logits: () => dLogits, biasH: () => dBiasH, biasW: () => dBiasW };
  },
});

/** Whether the SIMD kernels serve float32 tensors on the active backend. */
function simdActive(): boolean {
  return tf.getBackend() === "wasm" && simdFor(tf.backend()) !== undefined;
}

/**
 * `softmax([logits[:, :L], logits[:, L:] + biasH[:, ky] + biasW[:, kx]])` row by row: `logits`
 * `[r, L + h·w]` (prefix logits first, then the spatial ones, key row-major), `biasH` `[r, h]`,
 * `biasW` `[r, w]`. Differentiable; its tape keeps only the output (as softmax's), on every
 * backend. Custom-gradient code that recomputes it takes its backward step with
 * {@link biasedSoftmaxBackward}.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const p = biasedSoftmax(tf.zeros([1, 2]), tf.zeros([1, 1]), tf.tensor2d([[0, Math.log(3)]]), [1, 2]);
 * p.arraySync(); // ≈ [[0.25, 0.75]]
 * ```
 */
export function biasedSoftmax(
  logits: Tensor,
  biasH: Tensor,
  biasW: Tensor,
  [h, w]: [number, number],
): Tensor {
  if (simdActive() && logits.dtype === "float32") {
    return tf.engine().runKernel(FORWARD_KERNEL, { logits, biasH, biasW }, { h, w }) as Tensor;
  }
  return tf.tidy(() => tf.softmax(biasedLogits(logits, biasH, biasW, { h, w })));
}

/** The logits with the biases added to their spatial part, as tfjs ops (no SIMD kernel). */
function biasedLogits(logits: Tensor, biasH: Tensor, biasW: Tensor, { h, w }: Layout): Tensor {
  const { rows, prefix } = layoutOf(logits, { h, w });
  const parts = prefix > 0 ? tf.split(logits, [prefix, h * w], 1) : [undefined, logits];
  // Lean ops: tfjs's adds and reshapes would keep the logits for their shapes.
  const spatial = leanReshape(
    leanAdd(
      leanAdd(leanReshape(parts[1]!, [rows, h, w]), leanReshape(biasH, [rows, h, 1])),
      leanReshape(biasW, [rows, 1, w]),
    ),
    [rows, h * w],
  );
  return parts[0] ? leanConcat([parts[0], spatial], 1) : spatial;
}

/**
 * {@link biasedSoftmax} (with no gradient: for custom-gradient code) and each row's statistics,
 * `[r, 2]`: its largest biased logit and 1 / its sum of exponentials, from which
 * {@link biasedExp} recomputes the same probabilities in one pass.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const [p, stats] = biasedSoftmaxWithStats(tf.zeros([1, 2]), tf.zeros([1, 1]), tf.tensor2d([[0, Math.log(3)]]), [1, 2]);
 * stats.arraySync(); // ≈ [[1.0986, 0.75]]: the max log 3, and 1 / (1/3 + 1)
 * ```
 */
export function biasedSoftmaxWithStats(
  logits: Tensor,
  biasH: Tensor,
  biasW: Tensor,
  [h, w]: [number, number],
): [Tensor, Tensor] {
  if (simdActive() && logits.dtype === "float32") {
    return tf.engine().runKernel(STATS_KERNEL, { logits, biasH, biasW }, { h, w }) as unknown as [
      Tensor,
      Tensor,
    ];
  }
  return tf.tidy(() => {
    const biased = biasedLogits(logits, biasH, biasW, { h, w });
    const max = tf.max(biased, 1, true);
    const exponentials = tf.exp(tf.sub(biased, max));
    const inverse = tf.reciprocal(tf.sum(exponentials, 1, true));
    return [tf.mul(exponentials, inverse), tf.concat([max, inverse], 1)];
  });
}

/**
 * The probabilities of {@link biasedSoftmaxWithStats} again from the same logits and biases and
 * the `stats` it returned: `exp(biased − max) · (1 / sum)`, one pass, equal to the bit on wasm.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const stats = tf.tensor2d([[Math.log(3), 0.75]]);
 * biasedExp(tf.zeros([1, 2]), tf.zeros([1, 1]), tf.tensor2d([[0, Math.log(3)]]), stats, [1, 2])
 *   .arraySync(); // ≈ [[0.25, 0.75]]
 * ```
 */
export function biasedExp(
  logits: Tensor,
  biasH: Tensor,
  biasW: Tensor,
  stats: Tensor,
  [h, w]: [number, number],
): Tensor {
  if (simdActive() && logits.dtype === "float32") {
    return tf.engine().runKernel(EXP_KERNEL, { logits, biasH, biasW, stats }, { h, w }) as Tensor;
  }
  return tf.tidy(() => {
    const [max, inverse] = tf.split(stats, 2, 1);
    const biased = biasedLogits(logits, biasH, biasW, { h, w });
    return tf.mul(tf.exp(tf.sub(biased, max!)), inverse!);
  });
}

/**
 * The backward step of {@link biasedSoftmax} from its output `p` `[r, L + h·w]`, the gradient
 * `dP` reaching `p`, and `delta` `[r, 1]` (Σ_j p dP per row, which attention computes more
 * cheaply as Σ dO ⊙ O): `dS = p ⊙ (dP − delta)` (the logits' gradient) and the biases' gradients,
 * dS's spatial part summed over key columns (`[r, h]`) and over key rows (`[r, w]`).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const p = tf.tensor2d([[0.25, 0.75]]);
 * const [dS] = biasedSoftmaxBackward(p, tf.tensor2d([[1, 0]]), tf.tensor2d([[0.25]]), [1, 2]);
 * dS.arraySync(); // [[0.1875, -0.1875]]
 * ```
 */
export function biasedSoftmaxBackward(
  p: Tensor,
  dP: Tensor,
  delta: Tensor,
  [h, w]: [number, number],
): [Tensor, Tensor, Tensor] {
  if (simdActive() && p.dtype === "float32") {
    return tf.engine().runKernel(BACKWARD_KERNEL, { p, dP, delta }, { h, w }) as unknown as [
      Tensor,
      Tensor,
      Tensor,
    ];
  }
  return tf.tidy(() => {
    const { rows, prefix } = layoutOf(p, { h, w });
    const dS = tf.mul(p, tf.sub(dP, delta));
    const spatial = (prefix > 0 ? dS.slice([0, prefix], [rows, h * w]) : dS).reshape([rows, h, w]);
    return [dS, tf.sum(spatial, 2), tf.sum(spatial, 1)];
  });
}
