/**
 * GELU and its gradient as WebAssembly SIMD loops that run in place on tfjs-backend-wasm's heap.
 *
 * The JavaScript loops of `gelu.ts` cost about 9 ns per value for erf and as much again for the
 * gradient's exp: at 1024 px a vit_b training step passes 12 x 12.6 M MLP activations through
 * GELU twice and its gradient once, seconds of the step. This small module, assembled here from
 * its bytes (no build step, no binary in the tree), imports the backend's own `WebAssembly.Memory`
 * and computes four values per instruction, with the same rational erf and a Cephes-style expf.
 * It needs the wasm backend's heap object (tfjs-backend-wasm 4.22 keeps it at
 * `backend.wasm.asm.memory`) and WebAssembly SIMD; without either, `gelu.ts` keeps its loops.
 *
 * @module
 */

/** Byte offsets into the heap and a count of values (a multiple of 4). */
export interface GeluSimd {
  /** `out[i] = x[i] Φ(x[i])`. */
  gelu(x: number, out: number, count: number): void;
  /** `out[i] = dy[i] (Φ(x[i]) + x[i] φ(x[i]))`. */
  geluGradient(x: number, dy: number, out: number, count: number): void;
}

import {
  Code,
  expNonPositive,
  heapKernelExports,
  OP,
  SIMD,
  type SimdFunction,
  simdModuleBytes,
  type SimdModuleOptions,
} from "./wasm_code.ts";

// The erf coefficients of gelu.ts (Eigen's and XLA's float32 rational approximation on [-4, 4]).
const ERF_P = [
  -2.72614225801306e-10,
  2.77068142495902e-08,
  -2.10102402082508e-06,
  -5.69250639462346e-05,
  -7.34990630326855e-04,
  -2.95459980854025e-03,
  -1.60960333262415e-02,
];
const ERF_Q = [
  -1.45660718464996e-05,
  -2.13374055278905e-04,
  -1.68282697438203e-03,
  -7.37332916720468e-03,
  -1.42647390514189e-02,
];
/**
 * Leaves Φ(v) = 0.5 + 0.5 erf(v / √2) for the v128 in local `v`, using locals `t` and `t2`.
 */
function normalCdf(code: Code, v: number, t: number, t2: number): void {
  code.get(v).f32x4(Math.SQRT1_2).mul()
    .f32x4(-4).simd(SIMD.f32x4Pmax).f32x4(4).simd(SIMD.f32x4Pmin).tee(t)
    .get(t).mul().set(t2);
  code.get(t).horner(t2, ERF_P).mul(); // t p(t²)
  code.horner(t2, ERF_Q).simd(SIMD.f32x4Div); // erf
  code.f32x4(0.5).mul().f32x4(0.5).add();
}

/**
 * One function looping `i` over `bytes` (its last parameter) in steps of 16, with `body` leaving
 * the value to store at `out + i` (parameter `outParam`); v128 locals follow `i`.
 */
function loopFunction(
  fusedMultiplyAdd: boolean,
  name: string,
  params: number,
  outParam: number,
  v128Locals: number,
  body: (code: Code, i: number, firstV128: number) => void,
): SimdFunction {
  const bytesParam = params - 1;
  const i = params; // i32 local
  const firstV128 = params + 1;
  const code = new Code(firstV128 + v128Locals, fusedMultiplyAdd).forRange(
    i,
    (c) => c.i32(0),
    (c) => c.get(bytesParam),
    16,
    (c) => {
      c.get(outParam).get(i).op(OP.i32Add);
      body(c, i, firstV128);
      c.storeV();
    },
  );
  return { name, params, locals: { i32: 1, v128: v128Locals }, code };
}

/**
 * The module's bytes: imports `env.memory`, exports `gelu` and `gelu_gradient`; with
 * `fusedMultiplyAdd` (the default) its polynomials use relaxed SIMD.
 */
export function geluSimdModuleBytes(
  { fusedMultiplyAdd = true, sharedMemory = false }: SimdModuleOptions = {},
): Uint8Array<ArrayBuffer> {
  // gelu(x, out, bytes): locals i, then v, t, t2.
  const gelu = loopFunction(fusedMultiplyAdd, "gelu", 3, 1, 3, (code, i, first) => {
    const [v, t, t2] = [first, first + 1, first + 2];
    code.load(0, i).set(v);
    normalCdf(code, v, t, t2);
    code.get(v).mul();
  });
  // gelu_gradient(x, dy, out, bytes): locals i, then v, t, t2, n, r.
  const gradient = loopFunction(fusedMultiplyAdd, "gelu_gradient", 4, 2, 5, (code, i, first) => {
    const [v, t, t2, n, r] = [first, first + 1, first + 2, first + 3, first + 4];
    code.load(0, i).set(v);
    normalCdf(code, v, t, t2); // Φ(v) on the stack
    code.get(v).get(v).mul().f32x4(-0.5).mul().set(t);
    expNonPositive(code, t, n, r); // exp(-v²/2)
    code.get(v).mul().f32x4(1 / Math.sqrt(2 * Math.PI)).mul().add(); // Φ + v φ
    code.load(1, i).mul();
  });
  return simdModuleBytes([gelu, gradient], { sharedMemory });
}

/**
 * The SIMD loops over `memory`, or undefined where WebAssembly SIMD is missing.
 *
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const heap = new Float32Array(memory.buffer);
 * heap.set([0, 1, -1, 2], 0);
 * geluSimd(memory)?.gelu(0, 16, 4);
 * heap[5]; // ≈ 0.8413 (gelu(1))
 * ```
 */
export function geluSimd(memory: WebAssembly.Memory): GeluSimd | undefined {
  // Both loops step 16 bytes at a time over arrays that advance together.
  const exports = heapKernelExports(memory, geluSimdModuleBytes, {
    gelu: { count: 2, multiple: 16, strides: () => [1, 1], unitWork: () => 0.25 },
    gelu_gradient: { count: 3, multiple: 16, strides: () => [1, 1, 1], unitWork: () => 0.25 },
  }) as {
    gelu(x: number, out: number, bytes: number): void;
    gelu_gradient(x: number, dy: number, out: number, bytes: number): void;
  } | undefined;
  if (!exports) return undefined;
  return {
    gelu: (x, out, count) => exports.gelu(x, out, count * 4),
    geluGradient: (x, dy, out, count) => exports.gelu_gradient(x, dy, out, count * 4),
  };
}
