/**
 * A small seeded pseudo-random generator, so that initial weights, shuffles and hold-out splits
 * are reproducible across runs and machines (Math.random cannot be seeded).
 *
 * @module
 */

/**
 * Returns a generator of floats in [0, 1) from a 32-bit seed (mulberry32: tiny, fast, and good
 * enough for shuffling; not for cryptography).
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./prng.ts";
 * const random = mulberry32(42);
 * const a = random(); // the same value on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes two integers into one well-spread 32-bit seed, e.g. a run seed and an epoch number, so
 * that neighbouring epochs get unrelated shuffles.
 *
 * @example
 * ```ts
 * import { mixSeed } from "./prng.ts";
 * const epochSeed = mixSeed(1234, 3);
 * ```
 */
export function mixSeed(seed: number, salt: number): number {
  // The murmur3 finaliser applied to a combination of both inputs.
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ (salt >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
