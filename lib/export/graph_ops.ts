/**
 * The few layers the exported graphs are made of, as ONNX nodes over an {@link OnnxGraph}, each
 * written to compute what its tfjs counterpart in lib/nn computes, in the same order of
 * operations: Linear in PyTorch's layout, LayerNorm, exact GELU, reshapes and transposes. Weights
 * come from the library's tensors, read once.
 *
 * @module
 */
import type { Tensor } from "../backend/tf.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { float, int, ints, type OnnxGraph } from "./onnx_graph.ts";

/**
 * `values` of `shape` permuted by `perm`, in plain loops: tfjs's cpu and wasm Transpose take
 * seconds on a vit_b weight, these take milliseconds.
 */
export function transposeValues(
  values: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  for (let axis = rank - 1, stride = 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  const outShape = perm.map((axis) => shape[axis]!);
  const outStrides = perm.map((axis) => strides[axis]!); // input stride of each output axis
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const innerSize = outShape[last] ?? 1;
  const innerStride = outStrides[last] ?? 1;
  for (let at = 0; at < out.length; at += innerSize) {
    let from = 0;
    for (let axis = 0; axis < last; axis++) from += index[axis]! * outStrides[axis]!;
    for (let i = 0; i < innerSize; i++) out[at + i] = values[from + i * innerStride]!;
    for (let axis = last - 1; axis >= 0; axis--) {
      if (++index[axis]! < outShape[axis]!) break;
      index[axis] = 0;
    }
  }
  return out;
}

/** A tensor's values as a graph constant (transposed first with `perm`). */
export function tensorConstant(
  g: OnnxGraph,
  hint: string,
  tensor: Tensor,
  perm?: number[],
): string {
  // A copy: dataSync may hand out the backend's own buffer.
  const values = (tensor.dataSync() as Float32Array).slice();
  if (!perm) return g.constant(hint, values, tensor.shape);
  const dims = perm.map((axis) => tensor.shape[axis]!);
  return g.constant(hint, transposeValues(values, tensor.shape, perm), dims);
}

/** `x @ weightᵀ + bias` for a weight `[out, in]` in PyTorch's layout (as lib/nn/linear.ts). */
export function linearOf(
  g: OnnxGraph,
  x: string,
  weight: Tensor,
  bias: Tensor | undefined,
  hint: string,
): string {
  const product = g.op("MatMul", [x, tensorConstant(g, `${hint}.weight`, weight, [1, 0])]);
  return bias ? g.op("Add", [product, tensorConstant(g, `${hint}.bias`, bias)]) : product;
}

/** {@link linearOf} with `name.weight` and `name.bias` (when `withBias`) from `weights`. */
export function linear(
  g: OnnxGraph,
  x: string,
  weights: ModelWeights,
  name: string,
  withBias = true,
): string {
  return linearOf(
    g,
    x,
    weights.get(`${name}.weight`),
    withBias ? weights.get(`${name}.bias`) : undefined,
    name,
  );
}

/** LayerNorm over the last axis with `name.weight` and `name.bias`. */
export function layerNorm(
  g: OnnxGraph,
  x: string,
  weights: ModelWeights,
  name: string,
  eps: number,
): string {
  return g.op("LayerNormalization", [
    x,
    tensorConstant(g, `${name}.weight`, weights.get(`${name}.weight`)),
    tensorConstant(g, `${name}.bias`, weights.get(`${name}.bias`)),
  ], { axis: int(-1), epsilon: float(eps) });
}

/** The exact GELU `0.5 x (1 + erf(x / √2))`, in lib/nn/gelu.ts's order. */
export function gelu(g: OnnxGraph, x: string): string {
  const half = g.op("Mul", [x, g.scalar(0.5)]);
  const erf = g.op("Erf", [g.op("Mul", [x, g.scalar(Math.SQRT1_2)])]);
  return g.op("Mul", [half, g.op("Add", [erf, g.scalar(1)])]);
}

/** Reshape to a static shape. */
export function reshape(g: OnnxGraph, x: string, shape: readonly number[]): string {
  return g.op("Reshape", [x, g.int64s(shape)]);
}

/** Transpose by `perm`. */
export function transpose(g: OnnxGraph, x: string, perm: readonly number[]): string {
  return g.op("Transpose", [x], { perm: ints(perm) });
}

/** Static slice of `x` from `starts` to `ends` along `axes`. */
export function slice(
  g: OnnxGraph,
  x: string,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
): string {
  return g.op("Slice", [x, g.int64s(starts), g.int64s(ends), g.int64s(axes)]);
}

/** Splits `x` along `axis` into parts of `sizes`. */
export function split(g: OnnxGraph, x: string, axis: number, sizes: readonly number[]): string[] {
  return g.opN("Split", [x, g.int64s(sizes)], sizes.length, { axis: int(axis) });
}
