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
// Cephes expf: exp(t) = 2^n exp(r), r = t - n ln 2 in [-ln2/2, ln2/2], ln 2 split in two parts.
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_P = [
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
];

// Opcodes (WebAssembly core and SIMD).
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
};
const SIMD = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  f32x4Nearest: 0x6a,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  i32x4TruncSatF32x4S: 0xf8,
};
const V128 = 0x7b;
const I32 = 0x7f;

function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function sleb(value: number): number[] {
  const bytes: number[] = [];
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

/** An instruction stream with the few helpers the two loops need. */
class Code {
  bytes: number[] = [];
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
  /** Four copies of a float32. */
  f32x4(value: number): this {
    const lane = new Uint8Array(new Float32Array([value]).buffer);
    return this.simd(SIMD.const, ...lane, ...lane, ...lane, ...lane);
  }
  /** Four copies of an int32. */
  i32x4(value: number): this {
    const lane = new Uint8Array(new Int32Array([value]).buffer);
    return this.simd(SIMD.const, ...lane, ...lane, ...lane, ...lane);
  }
  /** v128 at `base + offset` (locals), 4-byte aligned. */
  load(base: number, offset: number): this {
    return this.get(base).get(offset).op(OP.i32Add).simd(SIMD.load, 2, 0);
  }
  mul(): this {
    return this.simd(SIMD.f32x4Mul);
  }
  add(): this {
    return this.simd(SIMD.f32x4Add);
  }
  /** Horner's rule in local `x` with the coefficients, highest power first; leaves the value. */
  horner(x: number, coefficients: readonly number[]): this {
    this.f32x4(coefficients[0]!);
    for (const c of coefficients.slice(1)) this.get(x).mul().f32x4(c).add();
    return this;
  }
}

/**
 * Leaves Φ(v) = 0.5 + 0.5 erf(v / √2) for the v128 in local `v`, using locals `t` and `t2`.
 */
function normalCdf(code: Code, v: number, t: number, t2: number): void {
  code.get(v).f32x4(Math.SQRT1_2).mul()
    .f32x4(-4).simd(SIMD.f32x4Max).f32x4(4).simd(SIMD.f32x4Min).tee(t)
    .get(t).mul().set(t2);
  code.get(t).horner(t2, ERF_P).mul(); // t p(t²)
  code.horner(t2, ERF_Q).simd(SIMD.f32x4Div); // erf
  code.f32x4(0.5).mul().f32x4(0.5).add();
}

/** Leaves exp(t) for the v128 in local `t` (t ≤ 0, clamped at -87), using locals `n`, `r`. */
function expNonPositive(code: Code, t: number, n: number, r: number): void {
  code.get(t).f32x4(-87).simd(SIMD.f32x4Max).set(t);
  code.get(t).f32x4(Math.LOG2E).mul().simd(SIMD.f32x4Nearest).set(n);
  code.get(t).get(n).f32x4(LN2_HI).mul().simd(SIMD.f32x4Sub)
    .get(n).f32x4(LN2_LO).mul().simd(SIMD.f32x4Sub).set(r);
  // y = p(r) r² + r + 1
  code.horner(r, EXP_P).get(r).mul().get(r).mul().get(r).add().f32x4(1).add();
  // 2^n from the exponent bits: (n + 127) << 23.
  code.get(n).simd(SIMD.i32x4TruncSatF32x4S).i32x4(127).simd(SIMD.i32x4Add)
    .op(OP.i32Const, ...sleb(23)).simd(SIMD.i32x4Shl).mul();
}

/**
 * One function looping `i` over `bytes` (its last parameter) in steps of 16, with `body` writing
 * the value to store at `out + i` (parameter `outParam`).
 */
function loopFunction(
  params: number,
  outParam: number,
  v128Locals: number,
  body: (code: Code, i: number, firstV128: number) => void,
): number[] {
  const bytesParam = params - 1;
  const i = params; // i32 local
  const firstV128 = params + 1;
  const code = new Code();
  code.op(OP.block, 0x40, OP.loop, 0x40);
  code.get(i).get(bytesParam).op(OP.i32GeU, OP.brIf, 1);
  code.get(outParam).get(i).op(OP.i32Add);
  body(code, i, firstV128);
  code.simd(SIMD.store, 2, 0);
  code.get(i).op(OP.i32Const, ...sleb(16), OP.i32Add).set(i);
  code.op(OP.br, 0, OP.end, OP.end, OP.end);
  const locals = [...uleb(2), 1, I32, ...uleb(v128Locals), V128];
  const fn = [...locals, ...code.bytes];
  return [...uleb(fn.length), ...fn];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** The module's bytes: imports `env.memory`, exports `gelu` and `gelu_gradient`. */
export function geluSimdModuleBytes(): Uint8Array<ArrayBuffer> {
  // gelu(x, out, bytes): locals i, then v, t, t2.
  const gelu = loopFunction(3, 1, 3, (code, i, first) => {
    const [v, t, t2] = [first, first + 1, first + 2];
    code.load(0, i).set(v);
    normalCdf(code, v, t, t2);
    code.get(v).mul();
  });
  // gelu_gradient(x, dy, out, bytes): locals i, then v, t, t2, n, r.
  const gradient = loopFunction(4, 2, 5, (code, i, first) => {
    const [v, t, t2, n, r] = [first, first + 1, first + 2, first + 3, first + 4];
    code.load(0, i).set(v);
    normalCdf(code, v, t, t2); // Φ(v) on the stack
    code.get(v).get(v).mul().f32x4(-0.5).mul().set(t);
    expNonPositive(code, t, n, r); // exp(-v²/2)
    code.get(v).mul().f32x4(1 / Math.sqrt(2 * Math.PI)).mul().add(); // Φ + v φ
    code.load(1, i).mul();
  });
  const types = [
    ...uleb(2),
    0x60,
    3,
    I32,
    I32,
    I32,
    0,
    0x60,
    4,
    I32,
    I32,
    I32,
    I32,
    0,
  ];
  const imports = [...uleb(1), ...name("env"), ...name("memory"), 0x02, 0x00, ...uleb(1)];
  const functions = [...uleb(2), 0, 1];
  const exports = [
    ...uleb(2),
    ...name("gelu"),
    0x00,
    0,
    ...name("gelu_gradient"),
    0x00,
    1,
  ];
  const code = [...uleb(2), ...gelu, ...gradient];
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
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, code),
  ]);
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
  const bytes = geluSimdModuleBytes();
  if (!WebAssembly.validate(bytes)) return undefined;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const exports = instance.exports as {
    gelu(x: number, out: number, bytes: number): void;
    gelu_gradient(x: number, dy: number, out: number, bytes: number): void;
  };
  return {
    gelu: (x, out, count) => exports.gelu(x, out, count * 4),
    geluGradient: (x, dy, out, count) => exports.gelu_gradient(x, dy, out, count * 4),
  };
}
