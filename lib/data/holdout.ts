/**
 * Carving a seeded, file-level hold-out split out of one folder, for datasets that ship only one
 * split (MESS ships evaluation splits only).
 *
 * @module
 */
import { shuffleSeeded } from "./shuffle.ts";

/** The two disjoint parts of a hold-out split; together they hold every item once. */
export interface HoldoutSplit<T> {
  /** Items kept for training, in their original order. */
  train: T[];
  /** Items held out for evaluation, in their original order. */
  heldOut: T[];
}

/**
 * Splits `items` into a training part and a held-out part of `round(fraction * n)` items (at
 * least one in each part when there are two or more items). The choice depends only on the
 * items' keys and the seed, not on the order they were listed in.
 *
 * @example
 * ```ts
 * import { splitHoldout } from "./holdout.ts";
 * const { train, heldOut } = splitHoldout(["a", "b", "c", "d", "e"], { fraction: 0.4, seed: 1 });
 * // train.length === 3, heldOut.length === 2
 * ```
 */
export function splitHoldout<T>(
  items: readonly T[],
  options: { fraction: number; seed: number; key?: (item: T) => string },
): HoldoutSplit<T> {
  const { fraction, seed } = options;
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`Hold-out fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  }
  const key = options.key ?? ((item: T) => String(item));
  // Sorting the keys first makes the result independent of directory listing order.
  const keys = items.map(key).sort();
  if (new Set(keys).size !== keys.length) {
    throw new RangeError("Hold-out split needs distinct item keys");
  }
  let count = Math.round(fraction * keys.length);
  if (keys.length >= 2) count = Math.min(Math.max(count, 1), keys.length - 1);
  const heldOutKeys = new Set(shuffleSeeded(keys, seed).slice(0, count));
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const item of items) (heldOutKeys.has(key(item)) ? heldOut : train).push(item);
  return { train, heldOut };
}
