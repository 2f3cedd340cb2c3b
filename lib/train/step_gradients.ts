/**
 * The loss and gradients of one training step, with the model's per-pass preparation and, when
 * the model asks for it, MoSA's consistency term.
 *
 * With consistency weight W the step's loss is `seg(out₁) + W · ½ (KL(p₂ ‖ p₁) + KL(p₁ ‖ p₂))`
 * (lib/train/consistency_loss.ts), `out₁` and `out₂` the logits of passes 0 and 1 and each
 * distribution a constant target for the other. That gradient splits exactly into one for each
 * pass: pass 0's of `seg(out₁) + (W/2) KL(p₂ ‖ p₁)` with p₂ fixed, plus pass 1's of
 * `(W/2) KL(p₁ ‖ p₂)` with p₁ fixed. So the step runs pass 1 once untaped for p₂, takes pass 0's
 * gradients (capturing p₁ from its logits on the way), then pass 1's, each the usual way
 * (stage by stage where the model offers stages), and sums them. Cost against one pass: one
 * untaped forward plus a second gradient computation.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf, type Variable } from "../backend/tf.ts";
import { classDistributions, klToTarget } from "./consistency_loss.ts";
import { type ModelGradientOptions, modelGradients, type TrainableModel } from "./trainable.ts";

/** Options of {@link stepGradients}. */
export interface StepGradientOptions extends ModelGradientOptions {
  /**
   * The part of the batch's pixels that `images` holds (a micro-batch: its tiles over the
   * batch's); the consistency term, a mean over the batch's pixels, is weighted by it. Default 1.
   */
  consistencyShare?: number;
}

/**
 * The loss of training step `step` of `model` on `images` and its gradients, keyed like
 * `tf.variableGrads` (by the variables' tfjs names). Prepares each forward pass on the model
 * (`prepareTrainingPass`) and returns it to its evaluated form afterwards. The caller disposes
 * `value` and `grads`.
 *
 * @param loss class logits -> scalar loss (e.g. `segmentationLoss` against the labels); it is
 * applied to pass 0 only.
 *
 * @example
 * ```ts ignore
 * const { value, grads } = stepGradients(model, images, (logits) => segmentationLoss(logits, labels),
 *   [...model.trainableVariables().values()], step);
 * ```
 */
export function stepGradients<Out = Tensor4D>(
  model: TrainableModel<Out>,
  images: Tensor4D,
  loss: (output: Out) => tf.Scalar,
  variables: readonly Variable[],
  step: number,
  options: StepGradientOptions = {},
): { value: tf.Scalar; grads: Record<string, Tensor> } {
  const weight = (model.consistencyWeight?.() ?? 0) * (options.consistencyShare ?? 1);
  const prepare = (pass: number | undefined) =>
    model.prepareTrainingPass?.(pass === undefined ? undefined : { step, pass });
  try {
    prepare(0);
    if (!(weight > 0)) return modelGradients(model, images, loss, variables, options);
    // The term compares per-pixel class distributions: only class logits [B, C, h, w] have them.
    const logitsOf = (output: Out): Tensor4D => {
      if (!(output instanceof tf.Tensor) || output.rank !== 4) {
        throw new TypeError(
          "MoSA's consistency term needs class logits [B, C, h, w] (the semantic head); " +
            "train this head with a consistency weight of 0",
        );
      }
      return output as Tensor4D;
    };

    prepare(1);
    const second = tf.tidy(() => classDistributions(logitsOf(model.forward(images))));
    let first: Tensor | undefined;
    let pass0;
    try {
      prepare(0);
      pass0 = modelGradients(
        model,
        images,
        (output) =>
          tf.tidy(() => {
            const logits = logitsOf(output);
            // Pass 0's distributions, the constant target of pass 1 (the loss runs once).
            first?.dispose();
            first = tf.keep(classDistributions(logits));
            return tf.add(loss(output), tf.mul(klToTarget(logits, second), weight / 2));
          }),
        variables,
        options,
      );
    } catch (error) {
      first?.dispose();
      throw error;
    } finally {
      second.dispose();
    }
    let pass1;
    try {
      prepare(1);
      pass1 = modelGradients(
        model,
        images,
        (output) => tf.tidy(() => tf.mul(klToTarget(logitsOf(output), first!), weight / 2)),
        variables,
        options,
      );
    } catch (error) {
      tf.dispose([pass0.value, ...Object.values(pass0.grads)]);
      throw error;
    } finally {
      first?.dispose();
    }
    const grads: Record<string, Tensor> = { ...pass0.grads };
    for (const [name, gradient] of Object.entries(pass1.grads)) {
      const previous = grads[name];
      if (!previous) {
        grads[name] = gradient;
        continue;
      }
      grads[name] = tf.add(previous, gradient);
      tf.dispose([previous, gradient]);
    }
    const value = tf.add(pass0.value, pass1.value) as tf.Scalar;
    tf.dispose([pass0.value, pass1.value]);
    return { value, grads };
  } finally {
    prepare(undefined);
  }
}
