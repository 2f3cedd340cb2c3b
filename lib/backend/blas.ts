/**
 * Finding and opening a system CBLAS library (OpenBLAS, MKL or Apple's Accelerate) through Deno's
 * foreign function interface, for its single-precision matrix product `cblas_sgemm`.
 *
 * Why: tfjs's wasm backend multiplies matrices with XNNPACK on one thread at 16-20 GFLOP/s on this
 * project's 2-core machines, where OpenBLAS reaches 110-124 GFLOP/s on the same product (both
 * cores, AVX2/AVX-512 kernels that WebAssembly cannot express). Matrix products are about 95% of
 * the image encoder's arithmetic, so handing them to a native BLAS is what brings a CPU forward
 * pass near PyTorch's (which uses the same OpenBLAS). The rest of the work stays on the tfjs
 * backend; see `blas_matmul.ts` for how the products are routed.
 *
 * The library is optional: without one (or without `--allow-ffi`) everything runs on tfjs alone.
 *
 * @module
 */

/** Where the loader looks by default, per operating system, in order. */
export const BLAS_CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  linux: [
    // Debian/Ubuntu's libopenblas0-pthread (via alternatives), Fedora's openblas, a plain build.
    "libopenblas.so.0",
    "libopenblas.so",
    "libopenblasp.so.0",
    "libmkl_rt.so.2",
    "libmkl_rt.so",
  ],
  darwin: [
    "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  ],
  windows: ["libopenblas.dll", "openblas.dll", "mkl_rt.2.dll"],
};

/** `cblas_sgemm`'s row-major and transpose flags (CBLAS's enum values). */
export const CBLAS_ROW_MAJOR = 101;
export const CBLAS_NO_TRANS = 111;
export const CBLAS_TRANS = 112;

/** `cblas_sgemm`'s foreign-function signature (also opened by `heap_threads.ts`'s workers). */
export const SGEMM_SYMBOL = {
  parameters: [
    "i32", // order
    "i32", // transA
    "i32", // transB
    "i32", // M
    "i32", // N
    "i32", // K
    "f32", // alpha
    "buffer", // A
    "i32", // lda
    "buffer", // B
    "i32", // ldb
    "f32", // beta
    "buffer", // C
    "i32", // ldc
  ],
  result: "void",
} as const;

const SYMBOLS = {
  cblas_sgemm: SGEMM_SYMBOL,
  // OpenBLAS's own (MKL and Accelerate have none of these names).
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
} as const;

/** An opened CBLAS library. */
export interface Blas {
  /** The name or path it was opened by. */
  readonly path: string;
  /**
   * `C = A·B` (with `A` and/or `B` transposed as stored) for row-major float32 matrices:
   * `a` holds `rows x inner` (`inner x rows` when `transposeA`), `b` holds `inner x cols`
   * (`cols x inner` when `transposeB`), `c` receives `rows x cols`. With `accumulate`,
   * `C += A·B` instead.
   */
  sgemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    rows: number,
    inner: number,
    cols: number,
    transposeA: boolean,
    transposeB: boolean,
    accumulate?: boolean,
  ): void;
  /**
   * Runs `during` with the library's own threads set to one (so that several threads can each
   * run products of their own), where the library can set them (OpenBLAS); else undefined.
   */
  readonly singleThreaded?: <T>(during: () => T) => T;
}

/** What `MOPEFT_BLAS` asks for: off, the default search, or one library. */
export type BlasRequest = { kind: "off" } | { kind: "search" } | { kind: "path"; path: string };

/**
 * Reads the `MOPEFT_BLAS` setting: unset or `auto` searches {@link BLAS_CANDIDATES}; `off`, `0`
 * or `none` disables native products; anything else is the library to open.
 *
 * @example
 * ```ts
 * blasRequestFromEnv("off"); // { kind: "off" }
 * blasRequestFromEnv("/opt/OpenBLAS/lib/libopenblas.so"); // { kind: "path", path: "/opt/OpenBLAS/lib/libopenblas.so" }
 * ```
 */
export function blasRequestFromEnv(value: string | undefined): BlasRequest {
  const text = (value ?? "").trim();
  if (text === "" || text.toLowerCase() === "auto") return { kind: "search" };
  if (["off", "0", "none", "false"].includes(text.toLowerCase())) return { kind: "off" };
  return { kind: "path", path: text };
}

/** `cblas_sgemm`'s scalar arguments, in its order (alpha, 1, and the three matrices left out). */
export type SgemmArguments = [
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  lda: number,
  ldb: number,
  ldc: number,
  beta: number,
];

/**
 * `cblas_sgemm`'s scalar arguments for {@link Blas.sgemm}'s: order, transA, transB, M, N, K,
 * lda, ldb, ldc and beta (alpha is 1).
 */
export function sgemmArguments(
  rows: number,
  inner: number,
  cols: number,
  transposeA: boolean,
  transposeB: boolean,
  accumulate: boolean,
): SgemmArguments {
  return [
    CBLAS_ROW_MAJOR,
    transposeA ? CBLAS_TRANS : CBLAS_NO_TRANS,
    transposeB ? CBLAS_TRANS : CBLAS_NO_TRANS,
    rows,
    cols,
    inner,
    transposeA ? rows : inner,
    transposeB ? inner : cols,
    cols,
    accumulate ? 1 : 0,
  ];
}

function open(path: string): Blas {
  const library = Deno.dlopen(path, SYMBOLS);
  const sgemm = library.symbols.cblas_sgemm;
  const { openblas_get_num_threads: getThreads, openblas_set_num_threads: setThreads } =
    library.symbols;
  return {
    path,
    singleThreaded: getThreads && setThreads
      ? (during) => {
        const threads = getThreads();
        setThreads(1);
        try {
          return during();
        } finally {
          setThreads(threads);
        }
      }
      : undefined,
    sgemm(a, b, c, rows, inner, cols, transposeA, transposeB, accumulate = false) {
      const [order, transA, transB, m, n, k, lda, ldb, ldc, beta] = sgemmArguments(
        rows,
        inner,
        cols,
        transposeA,
        transposeB,
        accumulate,
      );
      sgemm(order, transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
    },
  };
}

/** The outcome of {@link openBlas}: the library, or why there is none. */
export interface BlasOutcome {
  blas?: Blas;
  /** Why no library was opened (absent when one was). */
  reason?: string;
}

/**
 * Opens the library `request` names, or the first of {@link BLAS_CANDIDATES} that loads.
 * A library named explicitly that cannot be opened is an error; a failed search is not.
 */
export function openBlas(request: BlasRequest, os: string = Deno.build.os): BlasOutcome {
  if (request.kind === "off") return { reason: "MOPEFT_BLAS=off" };
  if (request.kind === "path") {
    try {
      return { blas: open(request.path) };
    } catch (error) {
      // Deno repeats its "Could not open library: " prefix; the loader's own reason follows it.
      const reason = firstLine(error).replace(/^(Could not open library: )+/, "");
      throw new Error(`MOPEFT_BLAS=${request.path}: cannot load it: ${reason}`);
    }
  }
  for (const candidate of BLAS_CANDIDATES[os] ?? []) {
    try {
      return { blas: open(candidate) };
    } catch (error) {
      // Without --allow-ffi no candidate can load: say so instead of "not found".
      if (error instanceof Deno.errors.NotCapable) {
        return { reason: "no --allow-ffi permission" };
      }
    }
  }
  return { reason: "no OpenBLAS, MKL or Accelerate library found" };
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split("\n")[0]!;
}
