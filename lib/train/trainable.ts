/**
 * What the trainer needs from a model: its trainable variables and a forward pass to class
 * logits. `PeftModel` (lib/peft) and the tests' small decoder-only models implement it.
 *
 * @module
 */
import type { Tensor, Tensor4D, Variable } from "../backend/tf.ts";

/**
 * `forward` cut in two where the gradient stops: a frozen front that no trainable variable
 * reaches (SAM's image encoder, when only the decoder trains) and the trained rest.
 * `logits(features(images))` must give `forward(images)` bit for bit.
 */
export interface FrozenSplit {
  /** The frozen front, e.g. images `[B, S, S, 3]` -> image embeddings; the caller disposes it. */
  features(images: Tensor4D): Tensor;
  /** The trained rest: `features`' output -> class logits `[B, numClasses, S/4, S/4]`. */
  logits(features: Tensor): Tensor4D;
}

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
  /**
   * Optional: the split of `forward` at its frozen front, or undefined when some trainable
   * variable lives in that front. The trainer runs the front outside the gradient tape: taped,
   * every activation of the encoder is kept until the backward pass, which never reaches it (on
   * the tests' tiny SAM that is 3/4 of the bytes alive when the loss is computed).
   */
  frozenSplit?(): FrozenSplit | undefined;
}
