/**
 * What the trainer needs from a model: its trainable variables and a forward pass to class
 * logits. `PeftModel` (lib/peft) and the tests' small decoder-only models implement it.
 *
 * @module
 */
import type { Tensor, Tensor4D, Variable } from "../backend/tf.ts";

/**
 * A model the trainer can update.
 *
 * @example
 * ```ts ignore
 * const model: TrainableModel = {
 *   trainableVariables: () => new Map([["head.weight", weight]]),
 *   forward: (images) => headLogits(images), // [B, C, S/4, S/4]
 * };
 * ```
 */
export interface TrainableModel {
  /** name -> variable; only these are updated. */
  trainableVariables(): Map<string, Variable>;
  /** images [B, S, S, 3] normalised+padded -> class logits [B, numClasses, S/4, S/4] */
  forward(images: Tensor4D): Tensor4D;
  /**
   * Optional per-step 0/1 masks (MoSA: only the active sparse part learns), keyed like
   * `trainableVariables()`; they multiply both the gradients and the optimiser's update. The
   * trainer disposes them after the step.
   */
  gradientMasks?(step: number): Map<string, Tensor> | undefined;
}
