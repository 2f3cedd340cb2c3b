/**
 * A small WebAssembly assembler for the SIMD kernels that run in place on tfjs-backend-wasm's
 * heap (`gelu_simd.ts`, `lib/encoder/attention_simd.ts`): an instruction stream with the few
 * operations those loops need, and a module builder whose functions import the backend's
 * `WebAssembly.Memory`. Kernels are assembled from these calls at start (no build step, no binary
 * in the tree).
 *
 * @module
 */
import { type ExportSplit, heapThreadsOf, splitExports } from "../backend/kernel_split.ts";
import { sleb, uleb, wasmName } from "../backend/wasm_encoding.ts";

/** Opcodes of the WebAssembly core instructions used here. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Max: 0x97,
  f32Sqrt: 0x91,
  f32ConvertI32U: 0xb3,
  f32ReinterpretI32: 0xbe,
} as const;

/** Opcodes (after the 0xfd prefix) of the SIMD instructions used here. */
export const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  f32x4RelaxedMadd: 0x105,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
} as const;

/** Value types. */
export const TYPE = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;

/**
 * An instruction stream. Loads and stores take byte addresses from the stack.
 *
 * V8 materialises a `v128.const` anew at every use, inside loops too: with `poolFrom` (the index
 * of the first local after the function's own), each distinct vector constant becomes one v128
 * local, set once when the function starts ({@link simdModuleBytes} adds them).
 */
export class Code {
  bytes: number[] = [];
  /** Pooled vector constants (their 16 bytes, joined) -> local index. */
  readonly pool = new Map<string, number>();
  /**
   * @param poolFrom where the constant pool's locals start (none without it).
   * @param fusedMultiplyAdd emit Horner steps as relaxed SIMD `f32x4.relaxed_madd` (one fused
   *   instruction where the CPU has FMA; a runtime without relaxed SIMD rejects the module).
   */
  constructor(readonly poolFrom?: number, readonly fusedMultiplyAdd = false) {}
  op(...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }
  simd(opcode: number, ...immediates: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...immediates);
  }
  get(local: number): this {
    return this.op(OP.localGet, ...uleb(local));
  }
  set(local: number): this {
    return this.op(OP.localSet, ...uleb(local));
  }
  tee(local: number): this {
    return this.op(OP.localTee, ...uleb(local));
  }
  i32(value: number): this {
    return this.op(OP.i32Const, ...sleb(value));
  }
  f32(value: number): this {
    return this.op(OP.f32Const, ...new Uint8Array(new Float32Array([value]).buffer));
  }
  /** Four copies of a float32. */
  f32x4(value: number): this {
    return this.vector(new Uint8Array(new Float32Array([value]).buffer));
  }
  /** Four copies of an int32. */
  i32x4(value: number): this {
    return this.vector(new Uint8Array(new Int32Array([value]).buffer));
  }
  /** A vector of four copies of `lane`, from the pool when there is one. */
  vector(lane: Uint8Array): this {
    const bytes = [...lane, ...lane, ...lane, ...lane];
    if (this.poolFrom === undefined) return this.simd(SIMD.const, ...bytes);
    const key = bytes.join(",");
    let local = this.pool.get(key);
    if (local === undefined) {
      local = this.poolFrom + this.pool.size;
      this.pool.set(key, local);
    }
    return this.get(local);
  }
  /** The instructions that set the pooled constants' locals. */
  poolPrologue(): number[] {
    const prologue = new Code();
    for (const [key, local] of this.pool) {
      prologue.simd(SIMD.const, ...key.split(",").map(Number)).set(local);
    }
    return prologue.bytes;
  }
  /** v128 at `base + offset` (locals), 4-byte aligned. */
  load(base: number, offset: number): this {
    return this.get(base).get(offset).op(OP.i32Add).simd(SIMD.load, 2, 0);
  }
  /** v128 at the address on the stack. */
  loadV(): this {
    return this.simd(SIMD.load, 2, 0);
  }
  /** Stores the v128 on top at the address below it. */
  storeV(): this {
    return this.simd(SIMD.store, 2, 0);
  }
  /** f32 at the address on the stack. */
  loadF(): this {
    return this.op(OP.f32Load, 2, 0);
  }
  /** Stores the f32 on top at the address below it. */
  storeF(): this {
    return this.op(OP.f32Store, 2, 0);
  }
  mul(): this {
    return this.simd(SIMD.f32x4Mul);
  }
  add(): this {
    return this.simd(SIMD.f32x4Add);
  }
  sub(): this {
    return this.simd(SIMD.f32x4Sub);
  }
  splat(): this {
    return this.simd(SIMD.f32x4Splat);
  }
  lane(index: number): this {
    return this.simd(SIMD.f32x4ExtractLane, index);
  }
  /** The address `base + (index << 2)` for locals `base` and `index` (an f32 element). */
  element(base: number, index: number): this {
    return this.get(base).get(index).i32(2).op(OP.i32Shl, OP.i32Add);
  }
  /** `top · x + c` for the v128 on top, local `x` and the constant `c`. */
  multiplyAdd(x: number, c: number): this {
    if (this.fusedMultiplyAdd) return this.get(x).f32x4(c).simd(SIMD.f32x4RelaxedMadd);
    return this.get(x).mul().f32x4(c).add();
  }
  /** Horner's rule in local `x` with the coefficients, highest power first; leaves the value. */
  horner(x: number, coefficients: readonly number[]): this {
    this.f32x4(coefficients[0]!);
    for (const c of coefficients.slice(1)) this.multiplyAdd(x, c);
    return this;
  }
  /**
   * `for (counter = from; counter < to; counter += step) body()`, unsigned; `from` and `to` push
   * one i32 each (`to` is evaluated every iteration). `body` must leave the stack as it found it.
   */
  forRange(
    counter: number,
    from: (code: this) => void,
    to: (code: this) => void,
    step: number,
    body: (code: this) => void,
  ): this {
    from(this);
    this.set(counter);
    this.op(OP.block, 0x40, OP.loop, 0x40);
    this.get(counter);
    to(this);
    this.op(OP.i32GeU, OP.brIf, 1);
    body(this);
    this.get(counter).i32(step).op(OP.i32Add).set(counter);
    this.op(OP.br, 0, OP.end, OP.end);
    return this;
  }
  /** `if (top of stack ≠ 0) then() else otherwise()`; both must leave the stack as they found it. */
  ifElse(then: (code: this) => void, otherwise: (code: this) => void): this {
    this.op(OP.if, 0x40);
    then(this);
    this.op(OP.else);
    otherwise(this);
    return this.op(OP.end);
  }
  /** Leaves the sum of the four lanes of the v128 in local `v` as an f32. */
  laneSum(v: number): this {
    return this.get(v).lane(0).get(v).lane(1).op(OP.f32Add)
      .get(v).lane(2).get(v).lane(3).op(OP.f32Add, OP.f32Add);
  }
  /** Leaves the largest of the four lanes of the v128 in local `v` as an f32. */
  laneMax(v: number): this {
    return this.get(v).lane(0).get(v).lane(1).op(OP.f32Max)
      .get(v).lane(2).get(v).lane(3).op(OP.f32Max, OP.f32Max);
  }
}

// Cephes expf: exp(t) = 2^n exp(r), r = t - n ln 2 in [-ln2/2, ln2/2], ln 2 split in two parts.
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
/** 1.5·2²³: adding it to a float of magnitude below 2²² rounds that to an integer. */
const ROUNDING_MAGIC = 12582912;
/** Its bits as an int32 (0x4B400000). */
const ROUNDING_MAGIC_BITS = 0x4b400000;
const EXP_P = [
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
];

/**
 * Leaves exp(t) for the v128 in local `t` (t ≤ 0, clamped at -87), using v128 locals `n`, `r`;
 * within a few float32 ulps of the true value.
 */
export function expNonPositive(code: Code, t: number, n: number, r: number): void {
  code.get(t).f32x4(-87).simd(SIMD.f32x4Pmax).set(t);
  // n holds t log2(e) + 1.5·2²³: the float addition rounds to the nearest integer k, which then
  // sits in the low mantissa bits (no float-to-int conversion, slow in wasm SIMD).
  code.get(t).f32x4(Math.LOG2E).mul().f32x4(ROUNDING_MAGIC).add().set(n);
  code.get(t)
    .get(n).f32x4(ROUNDING_MAGIC).sub().f32x4(LN2_HI).mul().sub()
    .get(n).f32x4(ROUNDING_MAGIC).sub().f32x4(LN2_LO).mul().sub().set(r);
  // y = p(r) r² + r + 1
  code.horner(r, EXP_P).get(r).mul().get(r).mul().get(r).add().f32x4(1).add();
  // 2^k from the exponent bits: (k + 127) << 23, k = bits(n) - bits(1.5·2²³).
  code.get(n).i32x4(127 - ROUNDING_MAGIC_BITS).simd(SIMD.i32x4Add)
    .i32(23).simd(SIMD.i32x4Shl).mul();
}

/**
 * The bytes `build` makes with fused multiply-adds where the runtime validates them, else
 * without; undefined where neither validates (no WebAssembly SIMD).
 */
export function validSimdModule(
  build: (options: SimdModuleOptions) => Uint8Array<ArrayBuffer>,
  { sharedMemory = false }: { sharedMemory?: boolean } = {},
): Uint8Array<ArrayBuffer> | undefined {
  for (const fusedMultiplyAdd of [true, false]) {
    const bytes = build({ fusedMultiplyAdd, sharedMemory });
    if (WebAssembly.validate(bytes)) return bytes;
  }
  return undefined;
}

/** One function of a module built by {@link simdModuleBytes}. */
export interface SimdFunction {
  /** Its export name. */
  name: string;
  /** i32 parameters (locals 0 … params - 1). */
  params: number;
  /** Locals after the parameters, in this order: i32, then f32, then v128. */
  locals: { i32?: number; f32?: number; v128?: number };
  /** The body (no results). */
  code: Code;
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/** How a kernel module is built. */
export interface SimdModuleOptions {
  /** Its polynomials use relaxed SIMD's fused multiply-adds. */
  fusedMultiplyAdd?: boolean;
  /**
   * It imports a shared memory (at most 65536 pages), as the heap of `wasm_shared_heap.ts` and of
   * tfjs's threaded build; an import must match the memory's sharing to instantiate.
   */
  sharedMemory?: boolean;
}

/**
 * A module that imports `env.memory` (one page at least; shared, at most 65536 pages, with
 * `sharedMemory`) and exports each function, which takes only i32 parameters and returns nothing.
 *
 * @example
 * ```ts
 * const code = new Code().get(0).get(0).loadF().f32(2).op(OP.f32Mul).storeF(); // *p *= 2
 * const bytes = simdModuleBytes([{ name: "double", params: 1, locals: {}, code }]);
 * WebAssembly.validate(bytes); // true
 * ```
 */
export function simdModuleBytes(
  functions: readonly SimdFunction[],
  { sharedMemory = false }: { sharedMemory?: boolean } = {},
): Uint8Array<ArrayBuffer> {
  const types: number[] = [...uleb(functions.length)];
  const bodies: number[] = [...uleb(functions.length)];
  for (const fn of functions) {
    types.push(0x60, ...uleb(fn.params), ...new Array<number>(fn.params).fill(TYPE.i32), 0);
    const counts = { ...fn.locals, v128: (fn.locals.v128 ?? 0) + fn.code.pool.size };
    const declared = fn.params + (fn.locals.i32 ?? 0) + (fn.locals.f32 ?? 0) +
      (fn.locals.v128 ?? 0);
    if (fn.code.pool.size > 0 && fn.code.poolFrom !== declared) {
      throw new RangeError(`${fn.name}: the constant pool must start at local ${declared}`);
    }
    const groups = (["i32", "f32", "v128"] as const).filter((type) => (counts[type] ?? 0) > 0);
    const locals = [
      ...uleb(groups.length),
      ...groups.flatMap((type) => [...uleb(counts[type]!), TYPE[type]]),
    ];
    const body = [...locals, ...fn.code.poolPrologue(), ...fn.code.bytes, OP.end];
    bodies.push(...uleb(body.length), ...body);
  }
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = [...uleb(1), ...wasmName("env"), ...wasmName("memory"), 0x02, ...limits];
  const declarations = [...uleb(functions.length), ...functions.map((_, i) => i)];
  const exports = [
    ...uleb(functions.length),
    ...functions.flatMap((fn, i) => [...wasmName(fn.name), 0x00, ...uleb(i)]),
  ];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, declarations),
    ...section(7, exports),
    ...section(10, bodies),
  ]);
}

/**
 * The exports of the module `build` makes (see {@link validSimdModule}), instantiated over
 * `memory`, with those named in `splits` spread over the kernel threads started for that memory
 * (`lib/backend/heap_threads.ts`) where there are any; undefined without WebAssembly SIMD.
 */
export function heapKernelExports(
  memory: WebAssembly.Memory,
  build: (options: SimdModuleOptions) => Uint8Array<ArrayBuffer>,
  splits: Readonly<Record<string, ExportSplit>>,
): Record<string, (...args: number[]) => void> | undefined {
  const bytes = validSimdModule(build, {
    sharedMemory: memory.buffer instanceof SharedArrayBuffer,
  });
  if (!bytes) return undefined;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const threads = heapThreadsOf(memory);
  return threads
    ? splitExports(threads, bytes, instance, splits)
    : instance.exports as Record<string, (...args: number[]) => void>;
}
