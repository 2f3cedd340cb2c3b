/**
 * Which host backends have their matrix products on a native BLAS library. Plain TypeScript: the
 * kernels (`lib/nn`, `lib/encoder`) ask it to choose their code path, and only
 * `blas_matmul.ts` (Deno's FFI) fills it, so a browser bundle of the kernels holds no FFI code
 * and always finds no library.
 *
 * @module
 */
import type { Blas } from "./blas.ts";

const libraries = new Map<string, Blas>();

/** The library products on `backend` go to, if `installBlasMatMul` routed them. */
export function blasFor(backend: string): Blas | undefined {
  return libraries.get(backend);
}

/** Records (or, with `undefined`, forgets) the library `backend`'s products go to. */
export function setBlasFor(backend: string, blas: Blas | undefined): void {
  if (blas) libraries.set(backend, blas);
  else libraries.delete(backend);
}
