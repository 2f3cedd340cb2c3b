/**
 * What the trainer needs from a model: its trainable variables and a forward pass to class
 * logits. `PeftModel` (lib/peft) and the tests' small decoder-only models implement it. Also the
 * one place that chooses how a step's gradients are taken from what the model offers.
 *
 * @module
 */
import { type Tensor, type Tensor4D, tf, type Variable } from "../backend/tf.ts";
import { type Stage, stagedGradients, type StageTiming } from "./staged_gradients.ts";
import { tapedTailFor, tensorMemoryLimit } from "./tape_budget.ts";

/**
 * `forward` cut in two where the gradient stops: a frozen front that no trainable variable
 * reaches (SAM's image encoder, when only the decoder trains) and the trained rest.
 * `logits(features(images))` must give `forward(images)` bit for bit.
 */
export interface FrozenSplit<Out = Tensor4D> {
  /** The frozen front, e.g. images `[B, S, S, 3]` -> image embeddings; the caller disposes it. */
  features(images: Tensor4D): Tensor;
  /** The trained rest: `features`' output -> the model's output (class logits `[B, numClasses, S/4, S/4]`). */
  logits(features: Tensor): Out;
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
export interface TrainableModel<Out = Tensor4D> {
  /** name -> variable; only these are updated. */
  trainableVariables(): Map<string, Variable>;
  /**
   * images [B, S, S, 3] normalised+padded -> class logits [B, numClasses, S/4, S/4] (or, with
   * `Out`, another head's tensors, e.g. a detection head's masks and class logits)
   */
  forward(images: Tensor4D): Out;
  /**
   * Optional per-step update rules, keyed like `trainableVariables()`: a 0/1 mask multiplies
   * both the variable's gradient and the optimiser's update (MoSA: a drawn expert learns only its
   * own entries); null means the variable is not updated this step and needs no gradient (an
   * expert no pass drew); a variable absent from the map learns whole. The trainer disposes the
   * masks after the step.
   */
  gradientMasks?(step: number): Map<string, Tensor | null> | undefined;
  /**
   * Optional: fixes the random choices of forward pass `pass.pass` of training step `pass.step`
   * (MoSA's expert draws) for every forward until the next call; undefined returns to the
   * deterministic, evaluated model. Called before each pass of a step and with undefined after
   * it (see lib/train/step_gradients.ts); the choices must be a pure function of the pass, so
   * that a stage run twice computes the same thing and a resumed run draws the same.
   */
  prepareTrainingPass?(pass: { step: number; pass: number } | undefined): void;
  /**
   * Optional: the weight W of the consistency term (MoSA): each step runs a second forward pass
   * (pass 1) and adds W x the symmetric KL divergence between the two passes' per-pixel class
   * distributions to the loss (lib/train/consistency_loss.ts). 0 or absent: one pass.
   */
  consistencyWeight?(): number;
  /**
   * Optional: the split of `forward` at its frozen front, or undefined when some trainable
   * variable lives in that front. The trainer runs the front outside the gradient tape: taped,
   * every activation of the encoder is kept until the backward pass, which never reaches it (on
   * the tests' tiny SAM that is 3/4 of the bytes alive when the loss is computed).
   */
  frozenSplit?(): FrozenSplit<Out> | undefined;
  /**
   * Optional: `forward` as a chain of stages, images `[B, S, S, 3]` -> … -> class logits
   * `[B, numClasses, S/4, S/4]` (the last stage returns `Out`) (SAM: the patch embedding, one stage per encoder block, then
   * neck, decoder and head), or undefined when that would not pay (nothing trains before the
   * last stage). The trainer then keeps one stage's tape at a time and runs every stage but the
   * last twice (see lib/train/staged_gradients.ts), so each stage must give the same result both
   * times and record nothing (no gate recorder). Composed, they must give `forward(images)`.
   */
  stages?(): Stage[] | undefined;
}

/** Optional parts of {@link modelGradients}. */
export interface ModelGradientOptions {
  /** Called at the memory peaks of the gradient computation (each full tape), for sampling. */
  onTapeFull?: () => void;
  /**
   * The frozen front's output for `images` when the caller already has it (the embedding cache,
   * or a micro-batch's first pass): used instead of running `frozenSplit().features`. Needs a
   * model with a frozen split; the caller keeps ownership.
   */
  features?: Tensor;
  /** When the gradients are taken stage by stage: each stage's times, for profiling. */
  onStageTimed?: (timing: StageTiming) => void;
  /**
   * When the gradients are taken stage by stage: how many final stages run once under one tape
   * (see `stagedGradients`). Default: as many as the backend's memory holds, from what the
   * model's first step at this input shape measured (that step keeps one tape at a time).
   */
  tapedTail?: number;
}

/** Per model and input shape: the taped tail its measured first step allows. */
const tapedTails = new WeakMap<TrainableModel<unknown>, Map<string, number>>();

/**
 * The loss of `model` on `images` and its gradients, keyed like `tf.variableGrads` (by the
 * variables' tfjs names), taken the cheapest way the model allows: past the frozen front when it
 * has one (`frozenSplit`), stage by stage when it offers `stages`, else with one tape over the
 * whole forward pass. The caller disposes `value` and `grads`; nothing else is left.
 *
 * @param loss class logits -> scalar loss (e.g. `segmentationLoss` against the labels).
 *
 * @example
 * ```ts ignore
 * const { value, grads } = modelGradients(model, images, (logits) => segmentationLoss(logits, labels),
 *   [...model.trainableVariables().values()]);
 * ```
 */
export function modelGradients<Out = Tensor4D>(
  model: TrainableModel<Out>,
  images: Tensor4D,
  loss: (logits: Out) => tf.Scalar,
  variables: readonly Variable[],
  options: ModelGradientOptions = {},
): { value: tf.Scalar; grads: Record<string, Tensor> } {
  const split = model.frozenSplit?.();
  if (options.features && !split) {
    throw new TypeError("Precomputed features need a model with a frozen front (frozenSplit)");
  }
  const stages = split ? undefined : model.stages?.();
  if (stages) {
    const head = stages.at(-1)!;
    const shape = images.shape.join("x");
    const known = options.tapedTail ?? tapedTails.get(model)?.get(shape);
    const limit = known === undefined ? tensorMemoryLimit() : undefined;
    const tapeBytes = new Array<number>(stages.length).fill(NaN);
    let peakBytes = 0;
    const result = stagedGradients(
      [
        ...stages.slice(0, -1), // The last stage returns `Out` (a Tensor, or a head's several tensors).
        (x) => tf.tidy(() => loss(head(x) as unknown as Out)),
      ],
      images,
      variables,
      {
        tapedTail: known ?? 1,
        onTapeFull: options.onTapeFull && (() => options.onTapeFull!()),
        onStageTimed: (timing) => {
          tapeBytes[timing.stage] = timing.tapeBytes;
          // Not tf.memory() at the full tape: it counts a saved tensor's buffer once more.
          peakBytes = Math.max(peakBytes, timing.heldBytes + timing.tapeBytes);
          options.onStageTimed?.(timing);
        },
      },
    );
    if (known === undefined) {
      const tail = limit === undefined ? 1 : tapedTailFor({ tapeBytes, peakBytes }, limit);
      const byShape = tapedTails.get(model) ?? new Map<string, number>();
      tapedTails.set(model, byShape.set(shape, tail));
    }
    return result;
  }
  // The frozen front runs before the tape starts: everything tf.variableGrads runs is taped
  // and its saved activations live until the backward pass, even where no gradient can flow.
  const features = options.features ?? split?.features(images);
  try {
    const forward = split ? () => split.logits(features!) : () => model.forward(images);
    const { value, grads } = tf.variableGrads(() => {
      const value = loss(forward());
      options.onTapeFull?.();
      return value;
    }, [...variables]);
    // tfjs lists a non-trainable variable with a null gradient; it gets none here.
    const present: Record<string, Tensor> = {};
    for (const [name, gradient] of Object.entries(grads)) if (gradient) present[name] = gradient;
    return { value, grads: present };
  } finally {
    if (!options.features) features?.dispose();
  }
}
