/**
 * The points where parameter-efficient methods enter an image-encoder block.
 *
 * The encoder itself knows nothing of LoRA, prefixes or adapters: a method (or the gated mixture
 * of several) answers, for each block and batch, with the pieces below, and the block applies
 * them in SAM's order (q/v updates inside the fused projection, key/value prefixes inside
 * attention, the adapter after the MLP).
 *
 * @module
 */
import type { Tensor, Tensor3D, Tensor4D } from "../backend/tf.ts";

/** Extra terms for one block and one batch. Every part is optional. */
export interface BlockExtension {
  /**
   * Additions to the query and value parts of the fused `qkv` projection.
   *
   * @param tokens `[B * windowsPerImage, T, D]` attention input (after norm1, windowed).
   * @param windowsPerImage windows each image was cut into (1 in global blocks), so that a
   *   per-image scale can be broadcast over its windows.
   * @returns `[B * windowsPerImage, T, D]` terms added to q and v.
   */
  queryValueDelta?(tokens: Tensor3D, windowsPerImage: number): { query?: Tensor; value?: Tensor };
  /**
   * Learned key and value vectors prepended to every window's keys and values, `[B, L, D]` each
   * (already scaled by their gate). They carry no relative-position term.
   */
  prefix?: { keys: Tensor3D; values: Tensor3D };
  /**
   * Replaces the MLP output before the residual add (`[B, H, W, D]` in and out): an adapter
   * returns `mlpOutput + gate * adapter(mlpOutput)`.
   */
  mlpOutput?(mlpOutput: Tensor4D): Tensor4D;
}

/**
 * Called once per block and forward pass with the block's input tokens `[B, H, W, D]` (gates are
 * computed from them); returns what that block should add, or nothing.
 */
export type EncoderExtensions = (blockIndex: number, blockInput: Tensor4D) =>
  | BlockExtension
  | undefined;
