/**
 * The chunked attention's elementwise work (`chunked_attention.ts`) as WebAssembly SIMD loops
 * that run in place on tfjs-backend-wasm's heap.
 *
 * Per block of query rows, the chunked path adds the two relative-position biases to the logits,
 * takes the softmax, and in backward forms dS = P ⊙ (dP − δ) and the biases' gradients (sums of
 * dS over key columns and key rows). As tfjs ops these are six passes over `[rows, L + T]`
 * blocks (two broadcast adds, softmax's max, exp, sum and divide; multiply, subtract, two sums):
 * at 1024 px they took about 8 s of a vit_b LoRA step of 41 s. Each kernel here is one pass over
 * a row that stays in the first-level cache, four values per instruction.
 *
 * Layout of a row (one query): `L` prefix logits without relative terms, then `h · w` spatial
 * logits, key row-major; `biasH` is `[rows, h]`, `biasW` `[rows, w]`. Any `L`, `h`, `w`.
 *
 * @module
 */
import {
  Code,
  expNonPositive,
  heapKernelExports,
  OP,
  SIMD,
  type SimdFunction,
  simdModuleBytes,
  type SimdModuleOptions,
} from "../nn/wasm_code.ts";

/** Byte offsets into the heap, and element counts. */
export interface AttentionSimd {
  /**
   * `out[i, :] = softmax([logits[i, :L], logits[i, L:] + biasH[i, ky] + biasW[i, kx]])` for
   * `rows` rows of `L + h·w` values.
   */
  biasedSoftmax(
    logits: number,
    biasH: number,
    biasW: number,
    out: number,
    rows: number,
    prefix: number,
    h: number,
    w: number,
    /** `[rows, 2]`: each row's largest biased logit and 1 / its sum of exponentials. */
    stats: number,
    /** 1 to write {@link stats}, 0 to leave them. */
    writeStats: 0 | 1,
  ): void;
  /** The rows of {@link biasedSoftmax} again, in one pass, from the `stats` it wrote. */
  biasedExp(
    logits: number,
    biasH: number,
    biasW: number,
    stats: number,
    out: number,
    rows: number,
    prefix: number,
    h: number,
    w: number,
  ): void;
  /**
   * `dS[i, j] = p[i, j] (dP[i, j] − delta[i])`, `dBiasH[i, ky] = Σ_kx dS[i, L + ky·w + kx]`,
   * `dBiasW[i, kx] = Σ_ky dS[i, L + ky·w + kx]`. With `rowDelta` 1, `delta[i]` is not read but
   * computed as `Σ_j p[i, j] dP[i, j]` (the softmax's own backward step).
   */
  softmaxBackward(
    p: number,
    dP: number,
    delta: number,
    dS: number,
    dBiasH: number,
    dBiasW: number,
    rows: number,
    prefix: number,
    h: number,
    w: number,
    rowDelta: 0 | 1,
  ): void;
}

/** Hands out local indices after the parameters: all i32 first, then f32, then v128. */
class Locals {
  #i32: string[] = [];
  #f32: string[] = [];
  #v128: string[] = [];
  constructor(readonly params: number) {}
  i32(...names: string[]): void {
    this.#i32.push(...names);
  }
  f32(...names: string[]): void {
    this.#f32.push(...names);
  }
  v128(...names: string[]): void {
    this.#v128.push(...names);
  }
  /** Index of each name. */
  indices(): Record<string, number> {
    const all = [...this.#i32, ...this.#f32, ...this.#v128];
    return Object.fromEntries(all.map((name, i) => [name, this.params + i]));
  }
  /** The index after the last local: where a constant pool starts. */
  end(): number {
    return this.params + this.#i32.length + this.#f32.length + this.#v128.length;
  }
  counts(): SimdFunction["locals"] {
    return { i32: this.#i32.length, f32: this.#f32.length, v128: this.#v128.length };
  }
}

/** Pushes the byte address of row `row` of a float32 array at `base` with rows of `width` (locals). */
function rowStart(c: Code, base: number, row: number, width: number): Code {
  return c.get(base).get(row).get(width).op(OP.i32Mul).i32(2).op(OP.i32Shl, OP.i32Add);
}

function biasedSoftmaxFunction(fusedMultiplyAdd: boolean): SimdFunction {
  const [logits, biasH, biasW, out, rows, prefix, h, w, stats, writeStats] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ];
  const locals = new Locals(10);
  locals.i32("row", "total", "totalVec", "wVec", "wVecBytes", "src", "dst", "bh", "bw", "j", "ky");
  locals.i32("kx", "base", "keySrc", "keyDst", "offset", "at", "vecEnd");
  locals.f32("scalar", "scalarSum", "bias");
  locals.v128("maxv", "biasv", "v", "t", "n", "r", "sumv");
  const L = locals.indices();
  const c = new Code(locals.end(), fusedMultiplyAdd);
  // total = prefix + h * w; totalVec and wVec round down to multiples of 4.
  c.get(prefix).get(h).get(w).op(OP.i32Mul, OP.i32Add).set(L.total!);
  c.get(L.total!).i32(-4).op(OP.i32And).set(L.totalVec!);
  c.get(w).i32(-4).op(OP.i32And).tee(L.wVec!).i32(2).op(OP.i32Shl).set(L.wVecBytes!);
  c.forRange(L.row!, (c) => c.i32(0), (c) => c.get(rows), 1, (c) => {
    // Row pointers: src/dst advance by total floats per row, bh by h, bw by w.
    rowStart(c, logits, L.row!, L.total!).set(L.src!);
    rowStart(c, out, L.row!, L.total!).set(L.dst!);
    rowStart(c, biasH, L.row!, h).set(L.bh!);
    rowStart(c, biasW, L.row!, w).set(L.bw!);
    c.f32x4(-Infinity).set(L.maxv!);
    // Prefix logits: copied as they are.
    c.forRange(L.j!, (c) => c.i32(0), (c) => c.get(prefix), 1, (c) => {
      c.element(L.src!, L.j!).loadF().set(L.scalar!);
      c.element(L.dst!, L.j!).get(L.scalar!).storeF();
      c.get(L.maxv!).get(L.scalar!).splat().simd(SIMD.f32x4Pmax).set(L.maxv!);
    });
    // Spatial logits: + biasH[ky] + biasW[kx]; the vector loops step byte offsets (fewer
    // instructions per value than element indices).
    c.forRange(L.ky!, (c) => c.i32(0), (c) => c.get(h), 1, (c) => {
      c.element(L.bh!, L.ky!).loadF().tee(L.bias!).splat().set(L.biasv!);
      // This key row's first value: element prefix + ky * w of the row, as byte addresses.
      c.get(prefix).get(L.ky!).get(w).op(OP.i32Mul, OP.i32Add).i32(2).op(OP.i32Shl).set(L.base!);
      c.get(L.src!).get(L.base!).op(OP.i32Add).set(L.keySrc!);
      c.get(L.dst!).get(L.base!).op(OP.i32Add).set(L.keyDst!);
      c.forRange(L.offset!, (c) => c.i32(0), (c) => c.get(L.wVecBytes!), 16, (c) => {
        c.get(L.keySrc!).get(L.offset!).op(OP.i32Add).loadV().get(L.biasv!).add()
          .get(L.bw!).get(L.offset!).op(OP.i32Add).loadV().add().set(L.v!);
        c.get(L.keyDst!).get(L.offset!).op(OP.i32Add).get(L.v!).storeV();
        c.get(L.maxv!).get(L.v!).simd(SIMD.f32x4Pmax).set(L.maxv!);
      });
      c.forRange(L.kx!, (c) => c.get(L.wVec!), (c) => c.get(w), 1, (c) => {
        c.element(L.keySrc!, L.kx!).loadF().get(L.bias!).op(OP.f32Add)
          .element(L.bw!, L.kx!).loadF().op(OP.f32Add).set(L.scalar!);
        c.element(L.keyDst!, L.kx!).get(L.scalar!).storeF();
        c.get(L.maxv!).get(L.scalar!).splat().simd(SIMD.f32x4Pmax).set(L.maxv!);
      });
    });
    // exp(x - max) in place, summed.
    c.laneMax(L.maxv!).splat().set(L.maxv!);
    c.f32x4(0).set(L.sumv!);
    c.f32(0).set(L.scalarSum!);
    c.get(L.dst!).get(L.totalVec!).i32(2).op(OP.i32Shl, OP.i32Add).set(L.vecEnd!);
    c.forRange(L.at!, (c) => c.get(L.dst!), (c) => c.get(L.vecEnd!), 16, (c) => {
      c.get(L.at!).loadV().get(L.maxv!).sub().set(L.t!);
      c.get(L.at!);
      expNonPositive(c, L.t!, L.n!, L.r!);
      c.tee(L.v!).storeV();
      c.get(L.sumv!).get(L.v!).add().set(L.sumv!);
    });
    c.forRange(L.j!, (c) => c.get(L.totalVec!), (c) => c.get(L.total!), 1, (c) => {
      c.element(L.dst!, L.j!).loadF().splat().get(L.maxv!).sub().set(L.t!);
      c.element(L.dst!, L.j!);
      expNonPositive(c, L.t!, L.n!, L.r!);
      c.lane(0).tee(L.scalar!).storeF();
      c.get(L.scalarSum!).get(L.scalar!).op(OP.f32Add).set(L.scalarSum!);
    });
    // Divide by the sum.
    c.f32(1).laneSum(L.sumv!).get(L.scalarSum!).op(OP.f32Add, OP.f32Div).tee(L.scalar!)
      .splat().set(L.biasv!);
    c.forRange(L.at!, (c) => c.get(L.dst!), (c) => c.get(L.vecEnd!), 16, (c) => {
      c.get(L.at!).get(L.at!).loadV().get(L.biasv!).mul().storeV();
    });
    c.forRange(L.j!, (c) => c.get(L.totalVec!), (c) => c.get(L.total!), 1, (c) => {
      c.element(L.dst!, L.j!).element(L.dst!, L.j!).loadF().get(L.scalar!).op(OP.f32Mul)
        .storeF();
    });
    // The row's statistics (max, 1 / sum), from which biased_exp recomputes it in one pass.
    c.get(writeStats).ifElse((c) => {
      c.get(stats).get(L.row!).i32(3).op(OP.i32Shl, OP.i32Add).tee(L.at!).get(L.maxv!).lane(0)
        .storeF();
      c.get(L.at!).i32(4).op(OP.i32Add).get(L.scalar!).storeF();
    }, () => {});
  });
  return { name: "biased_softmax", params: 10, locals: locals.counts(), code: c };
}

/**
 * The rows of `biased_softmax` again from the statistics it wrote, in one pass:
 * `exp(x + biases − max) · (1 / sum)` with the same operations in the same order, so the values
 * are the same to the bit.
 */
function biasedExpFunction(fusedMultiplyAdd: boolean): SimdFunction {
  const [logits, biasH, biasW, stats, out, rows, prefix, h, w] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const locals = new Locals(9);
  locals.i32("row", "total", "wVec", "wVecBytes", "src", "dst", "bh", "bw", "j", "ky", "kx");
  locals.i32("base", "keySrc", "keyDst", "offset", "statsAt");
  locals.f32("scalar", "bias", "inverse");
  locals.v128("maxv", "inversev", "biasv", "t", "n", "r");
  const L = locals.indices();
  const c = new Code(locals.end(), fusedMultiplyAdd);
  c.get(prefix).get(h).get(w).op(OP.i32Mul, OP.i32Add).set(L.total!);
  c.get(w).i32(-4).op(OP.i32And).tee(L.wVec!).i32(2).op(OP.i32Shl).set(L.wVecBytes!);
  c.forRange(L.row!, (c) => c.i32(0), (c) => c.get(rows), 1, (c) => {
    rowStart(c, logits, L.row!, L.total!).set(L.src!);
    rowStart(c, out, L.row!, L.total!).set(L.dst!);
    rowStart(c, biasH, L.row!, h).set(L.bh!);
    rowStart(c, biasW, L.row!, w).set(L.bw!);
    c.get(stats).get(L.row!).i32(3).op(OP.i32Shl, OP.i32Add).tee(L.statsAt!).loadF().splat()
      .set(L.maxv!);
    c.get(L.statsAt!).i32(4).op(OP.i32Add).loadF().tee(L.inverse!).splat().set(L.inversev!);
    // exp(t) · (1 / sum) of a scalar t, through lane 0 of the vector exp, as biased_softmax's
    // tail does.
    const scalarExp = (c: Code) => {
      c.set(L.t!);
      expNonPositive(c, L.t!, L.n!, L.r!);
      c.lane(0).get(L.inverse!).op(OP.f32Mul).storeF();
    };
    c.forRange(L.j!, (c) => c.i32(0), (c) => c.get(prefix), 1, (c) => {
      c.element(L.dst!, L.j!);
      c.element(L.src!, L.j!).loadF().splat().get(L.maxv!).sub();
      scalarExp(c);
    });
    c.forRange(L.ky!, (c) => c.i32(0), (c) => c.get(h), 1, (c) => {
      c.element(L.bh!, L.ky!).loadF().tee(L.bias!).splat().set(L.biasv!);
      c.get(prefix).get(L.ky!).get(w).op(OP.i32Mul, OP.i32Add).i32(2).op(OP.i32Shl).set(L.base!);
      c.get(L.src!).get(L.base!).op(OP.i32Add).set(L.keySrc!);
      c.get(L.dst!).get(L.base!).op(OP.i32Add).set(L.keyDst!);
      c.forRange(L.offset!, (c) => c.i32(0), (c) => c.get(L.wVecBytes!), 16, (c) => {
        c.get(L.keyDst!).get(L.offset!).op(OP.i32Add);
        c.get(L.keySrc!).get(L.offset!).op(OP.i32Add).loadV().get(L.biasv!).add()
          .get(L.bw!).get(L.offset!).op(OP.i32Add).loadV().add().get(L.maxv!).sub().set(L.t!);
        expNonPositive(c, L.t!, L.n!, L.r!);
        c.get(L.inversev!).mul().storeV();
      });
      c.forRange(L.kx!, (c) => c.get(L.wVec!), (c) => c.get(w), 1, (c) => {
        c.element(L.keyDst!, L.kx!);
        c.element(L.keySrc!, L.kx!).loadF().get(L.bias!).op(OP.f32Add)
          .element(L.bw!, L.kx!).loadF().op(OP.f32Add).splat().get(L.maxv!).sub();
        scalarExp(c);
      });
    });
  });
  return { name: "biased_exp", params: 9, locals: locals.counts(), code: c };
}

function softmaxBackwardFunction(fusedMultiplyAdd: boolean): SimdFunction {
  const [p, dP, delta, dS, dBiasH, dBiasW, rows, prefix, h, w, rowDelta] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
  ];
  const locals = new Locals(11);
  locals.i32(
    "row",
    "total",
    "totalVec",
    "wVec",
    "pRow",
    "dpRow",
    "dsRow",
    "bh",
    "bw",
    "j",
    "ky",
    "kx",
    "at",
  );
  locals.f32("d", "scalar", "scalarSum");
  locals.v128("dv", "v", "acc");
  const L = locals.indices();
  const c = new Code(locals.end(), fusedMultiplyAdd);
  c.get(prefix).get(h).get(w).op(OP.i32Mul, OP.i32Add).set(L.total!);
  c.get(L.total!).i32(-4).op(OP.i32And).set(L.totalVec!);
  c.get(w).i32(-4).op(OP.i32And).set(L.wVec!);
  c.forRange(L.row!, (c) => c.i32(0), (c) => c.get(rows), 1, (c) => {
    rowStart(c, p, L.row!, L.total!).set(L.pRow!);
    rowStart(c, dP, L.row!, L.total!).set(L.dpRow!);
    rowStart(c, dS, L.row!, L.total!).set(L.dsRow!);
    rowStart(c, dBiasH, L.row!, h).set(L.bh!);
    rowStart(c, dBiasW, L.row!, w).set(L.bw!);
    c.get(rowDelta).ifElse((c) => {
      // d = Σ_j p dP over the row.
      c.f32x4(0).set(L.acc!);
      c.f32(0).set(L.d!);
      c.forRange(L.j!, (c) => c.i32(0), (c) => c.get(L.totalVec!), 4, (c) => {
        c.get(L.acc!).element(L.pRow!, L.j!).loadV().element(L.dpRow!, L.j!).loadV().mul().add()
          .set(L.acc!);
      });
      c.forRange(L.j!, (c) => c.get(L.totalVec!), (c) => c.get(L.total!), 1, (c) => {
        c.get(L.d!).element(L.pRow!, L.j!).loadF().element(L.dpRow!, L.j!).loadF()
          .op(OP.f32Mul, OP.f32Add).set(L.d!);
      });
      c.laneSum(L.acc!).get(L.d!).op(OP.f32Add).set(L.d!);
    }, (c) => {
      c.element(delta, L.row!).loadF().set(L.d!);
    });
    c.get(L.d!).splat().set(L.dv!);
    // Prefix entries: dS only.
    c.forRange(L.j!, (c) => c.i32(0), (c) => c.get(prefix), 1, (c) => {
      c.element(L.dsRow!, L.j!);
      c.element(L.pRow!, L.j!).loadF().element(L.dpRow!, L.j!).loadF().get(L.d!)
        .op(OP.f32Sub, OP.f32Mul).storeF();
    });
    // dBiasW's row starts at zero and gathers each key row.
    c.forRange(L.kx!, (c) => c.i32(0), (c) => c.get(L.wVec!), 4, (c) => {
      c.element(L.bw!, L.kx!).f32x4(0).storeV();
    });
    c.forRange(L.kx!, (c) => c.get(L.wVec!), (c) => c.get(w), 1, (c) => {
      c.element(L.bw!, L.kx!).f32(0).storeF();
    });
    c.forRange(L.ky!, (c) => c.i32(0), (c) => c.get(h), 1, (c) => {
      c.f32x4(0).set(L.acc!);
      c.f32(0).set(L.scalarSum!);
      c.forRange(L.kx!, (c) => c.i32(0), (c) => c.get(L.wVec!), 4, (c) => {
        // at = element index prefix + ky * w + kx
        c.get(prefix).get(L.ky!).get(w).op(OP.i32Mul, OP.i32Add).get(L.kx!).op(OP.i32Add)
          .set(L.at!);
        c.element(L.pRow!, L.at!).loadV().element(L.dpRow!, L.at!).loadV().get(L.dv!).sub()
          .mul().set(L.v!);
        c.element(L.dsRow!, L.at!).get(L.v!).storeV();
        c.get(L.acc!).get(L.v!).add().set(L.acc!);
        c.element(L.bw!, L.kx!).element(L.bw!, L.kx!).loadV().get(L.v!).add().storeV();
      });
      c.forRange(L.kx!, (c) => c.get(L.wVec!), (c) => c.get(w), 1, (c) => {
        c.get(prefix).get(L.ky!).get(w).op(OP.i32Mul, OP.i32Add).get(L.kx!).op(OP.i32Add)
          .set(L.at!);
        c.element(L.pRow!, L.at!).loadF().element(L.dpRow!, L.at!).loadF().get(L.d!)
          .op(OP.f32Sub, OP.f32Mul).set(L.scalar!);
        c.element(L.dsRow!, L.at!).get(L.scalar!).storeF();
        c.get(L.scalarSum!).get(L.scalar!).op(OP.f32Add).set(L.scalarSum!);
        c.element(L.bw!, L.kx!).element(L.bw!, L.kx!).loadF().get(L.scalar!).op(OP.f32Add)
          .storeF();
      });
      c.element(L.bh!, L.ky!).laneSum(L.acc!).get(L.scalarSum!).op(OP.f32Add).storeF();
    });
  });
  return { name: "softmax_backward", params: 11, locals: locals.counts(), code: c };
}

/**
 * The module's bytes: imports `env.memory`, exports `biased_softmax`, `biased_exp` and
 * `softmax_backward`; with
 * `fusedMultiplyAdd` (the default) its exp polynomial uses relaxed SIMD.
 */
export function attentionSimdModuleBytes(
  { fusedMultiplyAdd = true, sharedMemory = false }: SimdModuleOptions = {},
): Uint8Array<ArrayBuffer> {
  return simdModuleBytes([
    biasedSoftmaxFunction(fusedMultiplyAdd),
    biasedExpFunction(fusedMultiplyAdd),
    softmaxBackwardFunction(fusedMultiplyAdd),
  ], { sharedMemory });
}

/**
 * The SIMD loops over `memory` (byte offsets into it), or undefined where WebAssembly SIMD is
 * missing.
 *
 * @example
 * ```ts
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const heap = new Float32Array(memory.buffer);
 * heap.set([0, 0], 0); // logits of one row: no prefix, h = 1, w = 2
 * heap.set([0], 4); // biasH
 * heap.set([0, Math.log(3)], 8); // biasW
 * attentionSimd(memory)?.biasedSoftmax(0, 16, 32, 64, 1, 0, 1, 2, 0, 0);
 * heap[16]; // ≈ 0.25
 * heap[17]; // ≈ 0.75
 * ```
 */
export function attentionSimd(memory: WebAssembly.Memory): AttentionSimd | undefined {
  // Every array is one row per query row: `prefix + h·w` logits, h and w bias values, 2 statistics.
  const total = (args: readonly number[], at: number) =>
    (args[at]! + args[at + 1]! * args[at + 2]!) * 4;
  const exports = heapKernelExports(memory, attentionSimdModuleBytes, {
    // (logits, biasH, biasW, out, rows, prefix, h, w, stats, withStats)
    biased_softmax: {
      count: 4,
      strides: (args) => {
        const row = total(args, 5);
        return [row, args[6]! * 4, args[7]! * 4, row, 0, 0, 0, 0, args[9] ? 8 : 0];
      },
      unitWork: (args) => total(args, 5) / 4,
    },
    // (logits, biasH, biasW, stats, out, rows, prefix, h, w)
    biased_exp: {
      count: 5,
      strides: (args) => {
        const row = total(args, 6);
        return [row, args[7]! * 4, args[8]! * 4, 8, row];
      },
      unitWork: (args) => total(args, 6) / 4,
    },
    // (p, dP, delta, dS, dBiasH, dBiasW, rows, prefix, h, w, rowDelta)
    softmax_backward: {
      count: 6,
      strides: (args) => {
        const row = total(args, 7);
        return [row, row, args[10] ? 0 : 4, row, args[8]! * 4, args[9]! * 4];
      },
      unitWork: (args) => total(args, 7) / 4,
    },
  }) as {
    biased_softmax: AttentionSimd["biasedSoftmax"];
    biased_exp: AttentionSimd["biasedExp"];
    softmax_backward: AttentionSimd["softmaxBackward"];
  } | undefined;
  if (!exports) return undefined;
  return {
    biasedSoftmax: (...args) => exports.biased_softmax(...args),
    biasedExp: (...args) => exports.biased_exp(...args),
    softmaxBackward: (...args) => exports.softmax_backward(...args),
  };
}
