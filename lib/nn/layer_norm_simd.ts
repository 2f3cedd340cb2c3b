/**
 * Layer normalisation over the last axis and its gradient with respect to the input, as
 * WebAssembly SIMD loops that run in place on tfjs-backend-wasm's heap.
 *
 * As tfjs ops a LayerNorm is about nine passes over the activations forward (moments, centre,
 * scale, affine) and as many again backward, each a kernel call over `[tokens, D]`; SAM's vit_b
 * encoder runs 24 of them per pass at 1024 px (4096 x 768 values each), forward, again when a
 * stage is recomputed, and backward. Here a row of D values stays in the first-level cache while
 * a few vector passes go over it: mean, variance of the centred values (two passes, as precise as
 * tfjs's moments), then the output.
 *
 * @module
 */
import {
  Code,
  heapKernelExports,
  OP,
  type SimdFunction,
  simdModuleBytes,
  type SimdModuleOptions,
} from "./wasm_code.ts";

/** Byte offsets into the heap; `rows` rows of `width` values (a multiple of 4). */
export interface LayerNormSimd {
  /** `out = (x − mean) / sqrt(var + eps) · gamma + beta`, per row. */
  layerNorm(
    x: number,
    gamma: number,
    beta: number,
    out: number,
    rows: number,
    width: number,
    eps: number,
  ): void;
  /**
   * `dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))` with `g = dy · gamma`, `x̂` the normalised row
   * and `rstd = 1 / sqrt(var + eps)`, per row.
   */
  layerNormGradient(
    x: number,
    gamma: number,
    dy: number,
    dx: number,
    rows: number,
    width: number,
    eps: number,
  ): void;
}

/**
 * Emits, for the row at `row` (a byte address local) of `width` values, its mean into f32 local
 * `mean` and 1 / sqrt(var + eps) into f32 local `rstd` (eps: the f32 local `eps`), using i32
 * local `j`, f32 local `inverseWidth` (1 / width) and v128 locals `acc`, `v`.
 */
function rowMoments(
  c: Code,
  locals: {
    row: number;
    width: number;
    j: number;
    mean: number;
    rstd: number;
    eps: number;
    inverseWidth: number;
    acc: number;
    v: number;
  },
): void {
  const { row, width, j, mean, rstd, eps, inverseWidth, acc, v } = locals;
  c.f32x4(0).set(acc);
  c.forRange(j, (c) => c.i32(0), (c) => c.get(width), 4, (c) => {
    c.get(acc).element(row, j).loadV().add().set(acc);
  });
  c.laneSum(acc).get(inverseWidth).op(OP.f32Mul).set(mean);
  c.f32x4(0).set(acc);
  c.forRange(j, (c) => c.i32(0), (c) => c.get(width), 4, (c) => {
    c.element(row, j).loadV().get(mean).splat().sub().tee(v).get(v).mul().get(acc).add().set(acc);
  });
  c.f32(1).laneSum(acc).get(inverseWidth).op(OP.f32Mul).get(eps).op(
    OP.f32Add,
    OP.f32Sqrt,
    OP.f32Div,
  )
    .set(rstd);
}

function layerNormFunction(): SimdFunction {
  // layer_norm(x, gamma, beta, out, rows, width, epsBits)
  const [x, gamma, beta, out, rows, width, epsBits] = [0, 1, 2, 3, 4, 5, 6];
  const [r, j, src, dst] = [7, 8, 9, 10]; // i32
  const [eps, mean, rstd, inverseWidth] = [11, 12, 13, 14]; // f32
  const [acc, v, meanV, rstdV] = [15, 16, 17, 18]; // v128
  const c = new Code(19);
  c.get(epsBits).op(OP.f32ReinterpretI32).set(eps);
  c.f32(1).get(width).op(OP.f32ConvertI32U, OP.f32Div).set(inverseWidth);
  c.forRange(r, (c) => c.i32(0), (c) => c.get(rows), 1, (c) => {
    c.get(x).get(r).get(width).op(OP.i32Mul).i32(2).op(OP.i32Shl, OP.i32Add).set(src);
    c.get(out).get(r).get(width).op(OP.i32Mul).i32(2).op(OP.i32Shl, OP.i32Add).set(dst);
    rowMoments(c, { row: src, width, j, mean, rstd, eps, inverseWidth, acc, v });
    c.get(mean).splat().set(meanV);
    c.get(rstd).splat().set(rstdV);
    c.forRange(j, (c) => c.i32(0), (c) => c.get(width), 4, (c) => {
      c.element(dst, j);
      c.element(src, j).loadV().get(meanV).sub().get(rstdV).mul()
        .element(gamma, j).loadV().mul().element(beta, j).loadV().add();
      c.storeV();
    });
  });
  return { name: "layer_norm", params: 7, locals: { i32: 4, f32: 4, v128: 4 }, code: c };
}

function layerNormGradientFunction(): SimdFunction {
  // layer_norm_gradient(x, gamma, dy, dx, rows, width, epsBits)
  const [x, gamma, dy, dx, rows, width, epsBits] = [0, 1, 2, 3, 4, 5, 6];
  const [r, j, src, grad, dst] = [7, 8, 9, 10, 11]; // i32
  const [eps, mean, rstd, inverseWidth, meanG, meanGX] = [12, 13, 14, 15, 16, 17]; // f32
  const [acc, v, meanV, rstdV, g, xHat, accGX] = [18, 19, 20, 21, 22, 23, 24]; // v128
  const c = new Code(25);
  c.get(epsBits).op(OP.f32ReinterpretI32).set(eps);
  c.f32(1).get(width).op(OP.f32ConvertI32U, OP.f32Div).set(inverseWidth);
  c.forRange(r, (c) => c.i32(0), (c) => c.get(rows), 1, (c) => {
    const rowOf = (base: number) =>
      c.get(base).get(r).get(width).op(OP.i32Mul).i32(2).op(OP.i32Shl, OP.i32Add);
    rowOf(x).set(src);
    rowOf(dy).set(grad);
    rowOf(dx).set(dst);
    rowMoments(c, { row: src, width, j, mean, rstd, eps, inverseWidth, acc, v });
    c.get(mean).splat().set(meanV);
    c.get(rstd).splat().set(rstdV);
    // Σ g and Σ g x̂ over the row.
    c.f32x4(0).set(acc);
    c.f32x4(0).set(accGX);
    const gAndXHat = (c: Code) => {
      c.element(grad, j).loadV().element(gamma, j).loadV().mul().set(g);
      c.element(src, j).loadV().get(meanV).sub().get(rstdV).mul().set(xHat);
    };
    c.forRange(j, (c) => c.i32(0), (c) => c.get(width), 4, (c) => {
      gAndXHat(c);
      c.get(acc).get(g).add().set(acc);
      c.get(accGX).get(g).get(xHat).mul().add().set(accGX);
    });
    c.laneSum(acc).get(inverseWidth).op(OP.f32Mul).set(meanG);
    c.laneSum(accGX).get(inverseWidth).op(OP.f32Mul).set(meanGX);
    c.get(meanG).splat().set(acc);
    c.get(meanGX).splat().set(accGX);
    c.forRange(j, (c) => c.i32(0), (c) => c.get(width), 4, (c) => {
      gAndXHat(c);
      c.element(dst, j);
      c.get(g).get(acc).sub().get(xHat).get(accGX).mul().sub().get(rstdV).mul();
      c.storeV();
    });
  });
  return {
    name: "layer_norm_gradient",
    params: 7,
    locals: { i32: 5, f32: 6, v128: 7 },
    code: c,
  };
}

/** The module's bytes: imports `env.memory`, exports `layer_norm` and `layer_norm_gradient`. */
export function layerNormSimdModuleBytes(
  { sharedMemory = false }: SimdModuleOptions = {},
): Uint8Array<ArrayBuffer> {
  return simdModuleBytes([layerNormFunction(), layerNormGradientFunction()], { sharedMemory });
}

/** eps as the int32 of its float32 bits (the module takes only i32 parameters). */
function floatBits(value: number): number {
  return new Int32Array(new Float32Array([value]).buffer)[0]!;
}

/**
 * The SIMD loops over `memory`, or undefined where WebAssembly SIMD is missing.
 *
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const heap = new Float32Array(memory.buffer);
 * heap.set([1, 2, 3, 4], 0); // x, one row of 4
 * heap.set([1, 1, 1, 1], 4); // gamma
 * heap.set([0, 0, 0, 0], 8); // beta
 * layerNormSimd(memory)?.layerNorm(0, 16, 32, 48, 1, 4, 1e-6);
 * heap[12]; // ≈ -1.342 ((1 - 2.5) / sqrt(1.25))
 * ```
 */
export function layerNormSimd(memory: WebAssembly.Memory): LayerNormSimd | undefined {
  type Raw = (
    a: number,
    b: number,
    c: number,
    d: number,
    rows: number,
    width: number,
    eps: number,
  ) => void;
  // Rows of `width` values; gamma and beta are shared by every row.
  const rows = {
    count: 4,
    strides: (args: readonly number[]) => {
      const row = args[5]! * 4;
      return [row, 0, 0, row];
    },
    unitWork: (args: readonly number[]) => args[5]!,
  };
  const gradientRows = {
    ...rows,
    strides: (args: readonly number[]) => {
      const row = args[5]! * 4;
      return [row, 0, row, row];
    },
  };
  const exports = heapKernelExports(memory, layerNormSimdModuleBytes, {
    layer_norm: rows,
    layer_norm_gradient: gradientRows,
  }) as { layer_norm: Raw; layer_norm_gradient: Raw } | undefined;
  if (!exports) return undefined;
  return {
    layerNorm: (x, gamma, beta, out, rows, width, eps) =>
      exports.layer_norm(x, gamma, beta, out, rows, width, floatBits(eps)),
    layerNormGradient: (x, gamma, dy, dx, rows, width, eps) =>
      exports.layer_norm_gradient(x, gamma, dy, dx, rows, width, floatBits(eps)),
  };
}
