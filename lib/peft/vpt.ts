/**
 * Visual prompt tuning, shallow: the prefix machinery of `prefix.ts` in the first block only. Its
 * tensors are named and counted as `vpt` (`encoder.blocks.0.vpt.*`, `encoder.vpt_reparam.*`).
 *
 * @module
 */

/**
 * The blocks that carry prefixes in shallow VPT: the first.
 *
 * @example
 * ```ts
 * vptBlockIndexes(12); // [0]
 * ```
 */
export function vptBlockIndexes(_depth: number): number[] {
  return [0];
}
