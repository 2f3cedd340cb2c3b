/**
 * Differentiable ops that keep less for the backward pass than tfjs's own.
 *
 * tfjs saves both inputs of every `Add` (its gradient needs only their shapes) and both operands
 * of every product (a frozen weight's gradient is never taken, so the activation it would
 * multiply is never needed). In one vit_b encoder block at 1024 px that is about 950 MiB of
 * saved tensors, of which these ops drop about half, so that more stages' tapes fit beside each
 * other (lib/train/tape_budget.ts) and fewer stages are computed twice. Each computes its value
 * with the same tfjs ops as the plain form (bit for bit the same result), as a `tf.customGrad`
 * whose gradient saves only what it uses.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { blasFor } from "../backend/blas_registry.ts";
import { matMul, matMulBias } from "./matmul.ts";

const frozenTensors = new WeakSet<Tensor>();

/**
 * Declares `tensors` frozen: no gradient is ever taken with respect to them (a checkpoint's
 * weights: training wraps what it trains in variables), so layers built on them alone keep less
 * for the backward pass. Tensors not declared keep tfjs's full gradients (`tf.grads` may ask
 * for any tensor's).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const weight = tf.ones([4, 3]);
 * markFrozen([weight]);
 * isFrozen(weight); // true
 * ```
 */
export function markFrozen(tensors: Iterable<Tensor>): void {
  for (const tensor of tensors) frozenTensors.add(tensor);
}

/** Whether `t` is absent or declared frozen by {@link markFrozen}. */
export function isFrozen(t: Tensor | undefined): boolean {
  return t === undefined || frozenTensors.has(t);
}

/** `dy` summed over the axes `a` was broadcast along, in `a`'s shape. */
function unbroadcast(dy: Tensor, shape: number[]): Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  if (axes.length === 0) return dy.reshape(shape);
  // Summed over leading axes only (a bias broadcast over rows): one product with a row of ones,
  // which a native BLAS runs in a fraction of tfjs-wasm's strided column sums (25 ms for a vit_b
  // adapter's [4096, 768] at 1024 px).
  const last = Math.max(...axes);
  const leading = dy.shape.slice(0, last + 1).every((d, axis) => d === 1 || axes.includes(axis));
  if (leading && blasFor(tf.getBackend())) {
    return tf.tidy(() => {
      const rows = dy.shape.slice(0, last + 1).reduce((a, b) => a * b, 1);
      const ones = tf.ones([1, rows]);
      return matMul(ones, dy.reshape([rows, dy.size / rows])).reshape(shape);
    });
  }
  return tf.sum(dy, axes).reshape(shape);
}

const leanAddOp = tf.customGrad((...args) => {
  const save = args.pop() as tf.GradSaveFunc;
  const [a, b] = args as [Tensor, Tensor];
  save([]);
  const aShape = a.shape;
  const bShape = b.shape;
  return {
    value: tf.add(a, b),
    gradFunc: (dy: Tensor) => [unbroadcast(dy, aShape), tf.clone(unbroadcast(dy, bShape))],
  };
}) as (a: Tensor, b: Tensor) => Tensor;

/**
 * `a + b` (broadcasting as `tf.add`) whose gradient keeps neither input.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanAdd(tf.ones([2, 3]), tf.ones([3])).shape; // [2, 3]
 * ```
 */
export function leanAdd(a: Tensor, b: Tensor): Tensor {
  return leanAddOp(a, b);
}

/**
 * `x.reshape(shape)` whose gradient keeps nothing (tfjs's keeps `x` for its shape, which keeps
 * alive a tensor that often nothing else needs, such as attention logits before a bias add).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanReshape(tf.ones([2, 3]), [3, 2]).shape; // [3, 2]
 * ```
 */
export function leanReshape(x: Tensor, shape: number[]): Tensor {
  const inputShape = x.shape;
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input] = args as [Tensor];
    save([]);
    return { value: input.reshape(shape), gradFunc: (dy: Tensor) => dy.reshape(inputShape) };
  }) as (x: Tensor) => Tensor;
  return op(x);
}

/**
 * `tf.concat(parts, axis)` whose gradient keeps none of the parts (tfjs's keeps them all for
 * their shapes).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanConcat([tf.ones([2, 1]), tf.ones([2, 3])], 1).shape; // [2, 4]
 * ```
 */
export function leanConcat(parts: Tensor[], axis: number): Tensor {
  const sizes = parts.map((part) => part.shape[axis]!);
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    save([]);
    return {
      value: tf.concat(args as Tensor[], axis),
      gradFunc: (dy: Tensor) => tf.split(dy, sizes, axis),
    };
  }) as (...parts: Tensor[]) => Tensor;
  return op(...parts);
}

/**
 * `tf.pad(x, paddings)` with zeros whose gradient keeps nothing (tfjs's keeps `x` for its
 * shape: a window partition's padded LayerNorm output, 12 MiB per vit_b block at 1024 px).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanPad(tf.ones([2, 3]), [[0, 1], [0, 2]]).shape; // [3, 5]
 * ```
 */
export function leanPad(x: Tensor, paddings: [number, number][]): Tensor {
  const inputShape = x.shape;
  const begin = paddings.map(([before]) => before);
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input] = args as [Tensor];
    save([]);
    return {
      value: tf.pad(input, paddings),
      gradFunc: (dy: Tensor) => tf.slice(dy, begin, inputShape),
    };
  }) as (x: Tensor) => Tensor;
  return op(x);
}

/**
 * `tf.slice(x, begin, size)` (explicit sizes, no -1) whose gradient keeps nothing (tfjs's keeps
 * `x` for its shape: a window unpartition's padded grid, 14 MiB per vit_b block at 1024 px).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanSlice(tf.ones([3, 5]), [0, 1], [2, 3]).shape; // [2, 3]
 * ```
 */
export function leanSlice(x: Tensor, begin: number[], size: number[]): Tensor {
  const inputShape = x.shape;
  if (size.some((extent, axis) => extent < 0 || begin[axis]! + extent > inputShape[axis]!)) {
    throw new RangeError(`leanSlice(): [${begin}] + [${size}] is outside [${inputShape}]`);
  }
  const paddings = inputShape.map((extent, axis): [number, number] => [
    begin[axis]!,
    extent - begin[axis]! - size[axis]!,
  ]);
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input] = args as [Tensor];
    save([]);
    return {
      value: tf.slice(input, begin, size),
      gradFunc: (dy: Tensor) => tf.pad(dy, paddings),
    };
  }) as (x: Tensor) => Tensor;
  return op(x);
}

/**
 * `(a · scale) @ bᵀ` over the last two axes (attention's scaled query-key product), whose
 * gradient keeps `a` and `b` and scales again where tfjs's would keep the scaled copy of `a`
 * beside `a` itself (which the relative-position terms keep: 14 MiB per vit_b block at 1024 px).
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * leanScaledMatMul(tf.ones([2, 5, 4]), tf.ones([2, 3, 4]), 0.5).shape; // [2, 5, 3]
 * ```
 */
export function leanScaledMatMul(a: Tensor, b: Tensor, scale: number): Tensor {
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [left, right] = args as [Tensor, Tensor];
    save([left, right]);
    return {
      value: matMul(tf.mul(left, scale), right, false, true),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [savedA, savedB] = saved as [Tensor, Tensor];
        return [
          tf.mul(matMul(dy, savedB), scale),
          matMul(dy, tf.mul(savedA, scale), true, false),
        ];
      },
    };
  }) as (a: Tensor, b: Tensor) => Tensor;
  return op(a, b);
}

/**
 * `x @ weightᵀ + bias` (PyTorch layout, any leading axes) for a weight and bias that take no
 * gradient ({@link isFrozen}): the backward pass keeps neither `x` nor the product and gives `x` its gradient
 * `dy @ weight` only.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * frozenLinear(tf.ones([2, 3]), tf.ones([4, 3]), tf.zeros([4])).shape; // [2, 4]
 * ```
 */
export function frozenLinear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inFeatures = x.shape[x.shape.length - 1]!;
  const outFeatures = weight.shape[0]!;
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input] = args as [Tensor];
    save([]);
    const y = matMulBias(input.reshape([-1, inFeatures]), weight, bias);
    return {
      value: y.reshape([...input.shape.slice(0, -1), outFeatures]),
      gradFunc: (dy: Tensor) => matMul(dy.reshape([-1, outFeatures]), weight).reshape(input.shape), // [N, in]
    };
  }) as (x: Tensor) => Tensor;
  return op(x);
}

/**
 * Layer normalisation over the last axis with a weight and bias that take no gradient, as
 * `layerNorm` computes it; the backward pass keeps only `x` and recomputes its statistics:
 * `dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))` with `g = dy · weight`, `x̂ = (x − μ) · rstd`.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * frozenLayerNorm(tf.tensor2d([[1, 2, 3]]), tf.ones([3]), tf.zeros([3]), 1e-6).shape; // [1, 3]
 * ```
 */
export function frozenLayerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const axis = x.shape.length - 1;
  const normalise = (input: Tensor) => {
    const { mean, variance } = tf.moments(input, axis, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    return { normalised: tf.mul(tf.sub(input, mean), rstd), rstd };
  };
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [input] = args as [Tensor];
    save([input]);
    const { normalised } = normalise(input);
    return {
      value: tf.add(tf.mul(normalised, weight), bias),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const { normalised: xHat, rstd } = normalise(saved[0]!);
        const g = tf.mul(dy, weight);
        const meanG = tf.mean(g, axis, true);
        const meanGX = tf.mean(tf.mul(g, xHat), axis, true);
        return tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(xHat, meanGX)), rstd);
      },
    };
  }) as (x: Tensor) => Tensor;
  return op(x);
}
