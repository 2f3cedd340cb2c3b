/**
 * One step's loss and gradients over a batch taken in micro-batches, for batches the backend
 * cannot hold at once (vit_b, batch 4, 1024 px on the 4 GiB wasm heap).
 *
 * The loss is not a sum over samples: cross-entropy is a mean over the batch's valid pixels and
 * Dice divides sums over the whole batch. So the micro-batches' own losses cannot simply be added.
 * What is a sum over samples are the {@link LossSums} (lib/train/loss.ts), and the loss is a
 * function `L(sums)` of them. The step therefore runs in two passes:
 *
 * 1. every micro-batch forward without a tape, keeping only its sums (a few numbers per class);
 *    their totals give the batch's loss exactly, and the constants `∂L/∂sum` at those totals;
 * 2. every micro-batch forward and backward on the surrogate `Σ_k (∂L/∂sum_k) · sum_k(micro)`,
 *    its gradients added up.
 *
 * By the chain rule, `∇L = Σ_k (∂L/∂sum_k) ∇sum_k` and `∇sum_k` is the sum of the micro-batches'
 * `∇sum_k(micro)`, so in exact arithmetic the loss value and every gradient equal those of one
 * batch (SAM has no batch statistics: each sample's logits do not depend on the others). In float
 * they differ by summation order only.
 *
 * The last micro-batch skips pass 1: its taped forward pass of pass 2 runs first, and its surrogate
 * takes the slopes from its own sums (read as constants) and the others' totals, so the tape
 * alive at that moment is the one pass 2 needs. The price is thus one more forward pass for each
 * micro-batch but the last when the encoder trains (vit_b, batch 4 in passes of 1: three, not
 * four); with a frozen front (decoder-only training) the first pass's image embeddings are kept
 * for the second, so the encoder still runs once. No loss is exact with fewer: a micro-batch's
 * backward pass needs the slopes, which need every micro-batch's forward pass, and only one
 * micro-batch's tapes fit in memory at a time (which is why the batch is split at all).
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf, type Variable } from "../backend/tf.ts";
import {
  addLossSums,
  lossFromSums,
  type LossSums,
  lossSums,
  type LossWeights,
  segmentationLoss,
} from "./loss.ts";
import type { StageTiming } from "./staged_gradients.ts";
import { stepGradients } from "./step_gradients.ts";
import type { TrainableModel } from "./trainable.ts";

/** Options of {@link batchGradients}. */
export interface BatchGradientOptions {
  /** The training step: each forward pass is prepared for it on the model (MoSA's draws). */
  step?: number;
  /** Tiles per micro-batch; the whole batch at once when absent or at least the batch size. */
  microBatch?: number;
  /** Loss term weights (see lib/train/loss.ts). */
  loss?: LossWeights;
  /** The frozen front's output for `images` (the embedding cache), `[B, ...]`; caller-owned. */
  features?: Tensor;
  /** Called at each memory peak (each full tape), for sampling. */
  onTapeFull?: () => void;
  /** When the gradients are taken stage by stage: each stage's times, for profiling. */
  onStageTimed?: (timing: StageTiming) => void;
}

/**
 * The segmentation loss of `model` on a batch and its gradients (keyed by the variables' tfjs
 * names, as `tf.variableGrads` keys them), in micro-batches of `options.microBatch` tiles when
 * that is smaller than the batch. The caller disposes `value` and `grads`.
 *
 * @example
 * ```ts ignore
 * const { value, grads } = batchGradients(model, images, labels,
 *   [...model.trainableVariables().values()], { microBatch: 1 });
 * ```
 */
export function batchGradients(
  model: TrainableModel,
  images: Tensor4D,
  labels: Tensor3D,
  variables: readonly Variable[],
  options: BatchGradientOptions = {},
): { value: tf.Scalar; grads: Record<string, Tensor> } {
  const batch = images.shape[0];
  const microBatch = options.microBatch ?? batch;
  if (!Number.isInteger(microBatch) || microBatch < 1) {
    throw new RangeError(`Micro-batch must be a positive integer, got ${microBatch}`);
  }
  const step = options.step ?? 0;
  const common = {
    onTapeFull: options.onTapeFull,
    onStageTimed: options.onStageTimed,
    features: options.features,
  };
  if (microBatch >= batch) {
    return stepGradients(
      model,
      images,
      (logits) => segmentationLoss(logits, labels, options.loss),
      variables,
      step,
      common,
    );
  }

  const split = model.frozenSplit?.();
  const parts: { images: Tensor4D; labels: Tensor3D; features?: Tensor; ownFeatures: boolean }[] =
    [];
  // Pass 1's sums, in the order of `parts`; the last part's are added by its own pass 2.
  const partSums: LossSums[] = [];
  let totals: LossSums | undefined;
  let batchLoss: { value: tf.Scalar; slopes: LossSlopes } | undefined;
  const grads: Record<string, Tensor> = {};
  try {
    for (let start = 0; start < batch; start += microBatch) {
      const size = Math.min(microBatch, batch - start);
      const part = {
        images: tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]),
        labels: tf.slice(labels, [start, 0, 0], [size, -1, -1]),
        features: options.features ? sliceBatch(options.features, start, size) : undefined,
        ownFeatures: options.features !== undefined,
      };
      parts.push(part);
      if (split && !part.features) {
        part.features = split.features(part.images);
        part.ownFeatures = true;
      }
    }
    const lastPart = parts.length - 1;
    for (const part of parts.slice(0, lastPart)) {
      // The sums of the segmentation loss come from pass 0 (the only pass it is taken on).
      model.prepareTrainingPass?.({ step, pass: 0 });
      try {
        partSums.push(tf.tidy(() => {
          const logits = part.features ? split!.logits(part.features) : model.forward(part.images);
          return lossSums(logits, part.labels);
        }));
      } finally {
        model.prepareTrainingPass?.(undefined);
      }
    }
    // Called by the last part's surrogate, inside its taped forward pass: its sums as constants
    // (no gradient flows into the slopes), the batch's totals, loss and slopes, kept past the
    // tape's scopes.
    const slopesWith = (own: LossSums): LossSlopes => {
      if (!batchLoss) {
        partSums.push(keepAll(constantSums(own)));
        totals = keepAll(addLossSums(partSums));
        const { value, slopes } = lossSlopes(totals, options.loss);
        batchLoss = { value: tf.keep(value), slopes: keepAll(slopes) };
      }
      return batchLoss.slopes;
    };
    const surrogateOf = (sums: LossSums, slopes: LossSlopes) =>
      tf.addN([
        sums.crossEntropySum.mul(slopes.crossEntropySum),
        tf.sum(sums.intersection.mul(slopes.intersection)),
        tf.sum(sums.predictedSum.mul(slopes.predictedSum)),
      ]) as tf.Scalar;
    const consistency = (model.consistencyWeight?.() ?? 0) > 0;
    let value: tf.Scalar | undefined;
    try {
      // The last part first: its taped pass gives the slopes the others' backward passes need.
      const order = [lastPart, ...Array.from({ length: lastPart }, (_, index) => index)];
      for (const index of order) {
        const part = parts[index]!;
        const surrogate = (logits: Tensor4D) =>
          tf.tidy(() => {
            const sums = lossSums(logits, part.labels);
            return surrogateOf(sums, index === lastPart ? slopesWith(sums) : batchLoss!.slopes);
          });
        // A consistency term (MoSA) is a mean over the batch's pixels: each micro-batch holds
        // its share of them.
        const result = stepGradients(model, part.images, surrogate, variables, step, {
          onTapeFull: options.onTapeFull,
          onStageTimed: options.onStageTimed,
          features: part.features,
          consistencyShare: part.images.shape[0] / batch,
        });
        if (!batchLoss) {
          tf.dispose([result.value, ...Object.values(result.grads)]);
          throw new Error("batchGradients(): the last micro-batch's pass took no loss");
        }
        value ??= tf.clone(batchLoss.value);
        if (consistency) {
          // The step's loss gains the consistency term: what this part's value holds beyond
          // its surrogate (whose gradient is the segmentation loss's, not its value).
          const previous = value;
          value = tf.tidy(() =>
            tf.add(previous, tf.sub(result.value, surrogateOf(partSums[index]!, batchLoss!.slopes)))
          ) as tf.Scalar;
          previous.dispose();
        }
        result.value.dispose();
        for (const [name, gradient] of Object.entries(result.grads)) {
          const sum = grads[name];
          if (sum) {
            grads[name] = tf.add(sum, gradient);
            tf.dispose([sum, gradient]);
          } else {
            grads[name] = gradient;
          }
        }
      }
    } catch (error) {
      value?.dispose();
      tf.dispose(Object.values(grads));
      throw error;
    }
    return { value: value!, grads };
  } finally {
    for (const part of parts) {
      tf.dispose([part.images, part.labels]);
      if (part.ownFeatures) part.features?.dispose();
    }
    for (const sums of partSums) tf.dispose(Object.values(sums));
    if (totals) tf.dispose(Object.values(totals));
    if (batchLoss) tf.dispose([batchLoss.value, ...Object.values(batchLoss.slopes)]);
  }
}

/** The loss's derivatives in the sums that depend on the model's output. */
type LossSlopes = Pick<LossSums, "crossEntropySum" | "intersection" | "predictedSum">;

/** `tensors`, each kept past the scopes it was made in (`tf.keep`). */
function keepAll<T extends Record<string, Tensor>>(tensors: T): T {
  for (const tensor of Object.values(tensors)) tf.keep(tensor);
  return tensors;
}

/** Copies of `sums` that no gradient reaches (new tensors from their values). */
function constantSums(sums: LossSums): LossSums {
  const constant = <T extends Tensor>(t: T) => tf.tensor(t.dataSync(), t.shape, t.dtype) as T;
  return {
    crossEntropySum: constant(sums.crossEntropySum),
    validCount: constant(sums.validCount),
    intersection: constant(sums.intersection),
    predictedSum: constant(sums.predictedSum),
    targetSum: constant(sums.targetSum),
  };
}

/** The loss at `totals` and its derivatives in the sums that depend on the model's output. */
function lossSlopes(totals: LossSums, weights: LossWeights | undefined): {
  value: tf.Scalar;
  slopes: LossSlopes;
} {
  const { value, grads } = tf.valueAndGrads(
    (crossEntropySum, intersection, predictedSum) =>
      lossFromSums({
        crossEntropySum: crossEntropySum as tf.Scalar,
        validCount: totals.validCount,
        intersection: intersection as tf.Tensor1D,
        predictedSum: predictedSum as tf.Tensor1D,
        targetSum: totals.targetSum,
      }, weights),
  )([totals.crossEntropySum, totals.intersection, totals.predictedSum]);
  return {
    value: value as tf.Scalar,
    slopes: {
      crossEntropySum: grads[0] as tf.Scalar,
      intersection: grads[1] as tf.Tensor1D,
      predictedSum: grads[2] as tf.Tensor1D,
    },
  };
}

/** Samples `[start, start + size)` of a batch-first tensor. */
function sliceBatch(tensor: Tensor, start: number, size: number): Tensor {
  const begin = tensor.shape.map((_, axis) => axis === 0 ? start : 0);
  const extent = tensor.shape.map((d, axis) => axis === 0 ? size : d);
  return tf.slice(tensor, begin, extent);
}
