/**
 * Seeded shuffling of file lists.
 *
 * @module
 */
import { mixSeed, mulberry32 } from "../nn/prng.ts";

/**
 * Returns a shuffled copy of `items` (Fisher-Yates); the same seed gives the same order.
 *
 * @example
 * ```ts
 * import { shuffleSeeded } from "./shuffle.ts";
 * shuffleSeeded(["a", "b", "c", "d"], 7); // a fixed permutation of the four
 * ```
 */
export function shuffleSeeded<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const result = items.slice();
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}

/**
 * The order of `items` for one epoch: a different, reproducible permutation per epoch.
 *
 * @example
 * ```ts
 * import { epochOrder } from "./shuffle.ts";
 * const first = epochOrder(["a", "b", "c"], { seed: 1, epoch: 0 });
 * const second = epochOrder(["a", "b", "c"], { seed: 1, epoch: 1 });
 * ```
 */
export function epochOrder<T>(
  items: readonly T[],
  options: { seed: number; epoch: number },
): T[] {
  return shuffleSeeded(items, mixSeed(options.seed, options.epoch));
}
