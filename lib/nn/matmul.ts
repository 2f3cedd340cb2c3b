/**
 * Matrix products that are fast on every backend.
 *
 * tfjs's wasm backend hands a product to XNNPACK only when it is a single plain matrix product:
 * with `transposeB` it runs about 10x slower, and with a batch dimension about 20-30x slower
 * (measured on this project's 2-core machines: 1.5 and 0.5 GFLOP/s against 14-20). On wasm this
 * function transposes explicitly (a cheap copy) and splits large batched products into plain ones, and
 * its gradient does the same (tfjs's own MatMul gradient uses transposed products). Elsewhere, and
 * on wasm when a native BLAS runs the products, it calls `tf.matMul` as is.
 *
 * @module
 */
import { type Tensor, type Tensor2D, tf } from "../backend/tf.ts";
import { blasFor } from "../backend/blas_registry.ts";

/**
 * Multiply-adds per batch entry from which splitting a batched product into plain ones pays on
 * wasm: slicing costs a few milliseconds per entry, the batched kernel runs at about 1.7 GFLOP/s.
 * A 14x14 attention window (196 x 64 x 196) stays batched; a global block's row block splits.
 */
const SPLIT_MIN_PRODUCT = 1 << 23;

function swapLastAxes(x: Tensor): Tensor {
  const axes = x.shape.map((_, i) => i);
  const last = axes.length - 1;
  [axes[last - 1], axes[last]] = [axes[last]!, axes[last - 1]!];
  return tf.transpose(x, axes);
}

/**
 * A plain 2-D product whose gradient is made of plain 2-D products too:
 * dA = dY · Bᵀ and dB = Aᵀ · dY with the transposes done as copies.
 */
const plainMatMul = tf.customGrad((...args) => {
  const save = args.pop() as tf.GradSaveFunc;
  const [a, b] = args as [Tensor2D, Tensor2D];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [left, right] = saved as [Tensor2D, Tensor2D];
      return [
        tf.matMul(dy as Tensor2D, tf.transpose(right)),
        tf.matMul(tf.transpose(left), dy as Tensor2D),
      ];
    },
  };
}) as (a: Tensor, b: Tensor) => Tensor;

/**
 * `a @ b` over the last two axes (with optional transposes), batched over the leading axes, which
 * must be equal in `a` and `b` unless `b` is a plain matrix.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const y = matMul(tf.ones([2, 3, 4]), tf.ones([2, 5, 4]), false, true);
 * y.shape; // [2, 3, 5]
 * ```
 */
export function matMul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  // A native BLAS (see blas_matmul.ts) takes transposes and batches at full speed: no rerouting.
  if (tf.getBackend() !== "wasm" || blasFor("wasm")) {
    return tf.matMul(a, b, transposeA, transposeB);
  }
  return tf.tidy(() => {
    let left = transposeA ? swapLastAxes(a) : a;
    const right = transposeB ? swapLastAxes(b) : b;
    const [rows, inner] = left.shape.slice(-2) as [number, number];
    const cols = right.shape[right.shape.length - 1]!;
    const batchShape = left.shape.slice(0, -2);
    if (right.shape.length === 2) {
      // One weight matrix for every batch entry: fold the batch into the rows.
      left = left.reshape([-1, inner]);
      return plainMatMul(left, right).reshape([...batchShape, rows, cols]);
    }
    const batch = batchShape.reduce((x, y) => x * y, 1);
    if (batch === 1) {
      return plainMatMul(left.reshape([rows, inner]), right.reshape([inner, cols]))
        .reshape([...batchShape, rows, cols]);
    }
    if (rows * inner * cols < SPLIT_MIN_PRODUCT) {
      // Many small products (attention windows): the batched kernel beats slicing them apart.
      return tf.matMul(left.reshape([batch, rows, inner]), right.reshape([batch, inner, cols]))
        .reshape([...batchShape, rows, cols]);
    }
    const lefts = tf.split(left.reshape([batch, rows, inner]), batch, 0);
    const rights = tf.split(right.reshape([batch, inner, cols]), batch, 0);
    const products = lefts.map((l, i) =>
      plainMatMul(l.reshape([rows, inner]), rights[i]!.reshape([inner, cols]))
    );
    return tf.stack(products).reshape([...batchShape, rows, cols]);
  });
}

/**
 * `a @ weightᵀ + bias` for a 2-D `a` and a PyTorch-layout `weight` `[out, in]`, with no gradient
 * of its own (for forward passes inside a custom gradient). Where a native BLAS runs the products
 * the bias is written into the output first and the product added onto it: one pass over the
 * output instead of tfjs's broadcast add (1.4 ns a value on wasm: 17 ms for a vit_b MLP's first
 * layer at 1024 px). Elsewhere a separate add: tfjs-wasm's own fused kernel gives wrong rows with
 * `transposeB` plus a bias.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * matMulBias(tf.ones([2, 3]), tf.ones([4, 3]), tf.zeros([4])).shape; // [2, 4]
 * ```
 */
export function matMulBias(a: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (!bias) return matMul(a, weight, false, true);
  if (blasFor(tf.getBackend())) {
    return tf.fused.matMul({ a: a as Tensor2D, b: weight as Tensor2D, transposeB: true, bias });
  }
  return tf.tidy(() => tf.add(matMul(a, weight, false, true), bias));
}
