/**
 * One timed optimisation step of a PEFT run, as the trainer takes it.
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import type { PeftModel } from "../peft/peft_model.ts";
import type { Adam } from "../train/adam.ts";
import { batchGradients } from "../train/micro_batch.ts";
import type { StageTiming } from "../train/staged_gradients.ts";
import { maskGradients, maskTensors } from "../train/update_masks.ts";

/** Optional observers of {@link trainStep}. */
export interface TrainStepHooks {
  /**
   * Called at the step's memory peaks (with a tape full: the whole forward pass's, or each
   * stage's when the gradients are taken stage by stage; with the gradients alive), for
   * sampling.
   */
  onPeak?: () => void;
  /** When the gradients are taken stage by stage: each stage's times (for profiling). */
  onStageTimed?: (timing: StageTiming) => void;
  /** Tiles per pass of the model (lib/train/micro_batch.ts); default the batch. */
  microBatch?: number;
}

/**
 * Forward pass, loss, backward pass and Adam update (with MoSA's expert draws, masks and, when
 * its weight is not 0, the consistency term's second pass), waiting for the updated values;
 * returns the loss. Every tensor made is freed.
 *
 * @example
 * ```ts ignore
 * const adam = new Adam(model.trainableVariables());
 * const loss = await trainStep(model, adam, images, labels, 0);
 * ```
 */
export async function trainStep(
  model: PeftModel,
  adam: Adam,
  images: Tensor4D,
  labels: Tensor3D,
  step: number,
  hooks: TrainStepHooks = {},
): Promise<number> {
  const { onPeak, onStageTimed, microBatch } = hooks;
  const variables = model.trainableVariables();
  // tf.variableGrads keys gradients by the variables' own (unique) tfjs names.
  const nameOf = new Map([...variables].map(([name, variable]) => [variable.name, name]));
  const masks = model.gradientMasks(step);
  const gradients = new Map<string, Tensor>();
  try {
    // As the trainer takes it: block by block when the encoder trains, past the frozen encoder
    // when only the decoder does, in micro-batches when asked; onPeak sees each full tape.
    const { value, grads } = batchGradients(model, images, labels, [...variables.values()], {
      step,
      onTapeFull: onPeak,
      onStageTimed,
      microBatch,
    });
    for (const [tfName, gradient] of Object.entries(grads)) {
      gradients.set(nameOf.get(tfName)!, gradient);
    }
    onPeak?.();
    if (masks) maskGradients(gradients, masks);
    adam.applyGradients(gradients, 1e-4, masks);
    const loss = (await value.data())[0]!;
    value.dispose();
    // Waiting for one updated variable waits for the whole queue on asynchronous backends.
    await variables.values().next().value?.data();
    return loss;
  } finally {
    tf.dispose([...gradients.values(), ...maskTensors(masks)]);
  }
}
