/**
 * The model sizes the benchmark can generate in memory (random weights, official layout).
 *
 * @module
 */
import { type SamSize, TINY_SIZE, VIT_B_SIZE } from "../encoder/random_checkpoint.ts";

/** SAM ViT-L's sizes. */
const VIT_L_SIZE: SamSize = {
  ...VIT_B_SIZE,
  embedDim: 1024,
  depth: 24,
  numHeads: 16,
  globalBlocks: [5, 11, 17, 23],
};

/** SAM ViT-H's sizes. */
const VIT_H_SIZE: SamSize = {
  ...VIT_B_SIZE,
  embedDim: 1280,
  depth: 32,
  numHeads: 16,
  globalBlocks: [7, 15, 23, 31],
};

/** Sizes by the name `--size` takes: the three released SAMs and the tests' tiny model. */
export const BENCH_SIZES: Readonly<Record<string, SamSize>> = {
  tiny: TINY_SIZE,
  vit_b: VIT_B_SIZE,
  vit_l: VIT_L_SIZE,
  vit_h: VIT_H_SIZE,
};

/**
 * The size called `name`, with its input side replaced by `imageSize` when given. Throws a
 * `RangeError` for an unknown name or an input side that is not a positive multiple of 16.
 *
 * @example
 * ```ts
 * import { benchSize } from "./bench_sizes.ts";
 * benchSize("vit_b", 512).imageSize; // 512
 * ```
 */
export function benchSize(name: string, imageSize?: number): SamSize {
  const size = BENCH_SIZES[name];
  if (!size) {
    throw new RangeError(
      `unknown size "${name}" (known: ${Object.keys(BENCH_SIZES).join(", ")})`,
    );
  }
  if (imageSize === undefined) return size;
  if (!Number.isInteger(imageSize) || imageSize <= 0 || imageSize % 16 !== 0) {
    throw new RangeError(`image size must be a positive multiple of 16, got ${imageSize}`);
  }
  return { ...size, imageSize };
}
