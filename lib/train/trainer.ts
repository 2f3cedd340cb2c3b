/**
 * The training loop: one readable loop over batches of tiles, Adam on the model's trainable
 * variables, a learning rate that is a pure function of the step, periodic logging, validation
 * and resumable checkpoints.
 *
 * Resuming is exact: the reader's file order is a pure function of (seed, epoch), a checkpoint
 * records how many batches of its epoch were consumed, and a resumed run skips those batches and
 * continues with the same weights, Adam moments and step, so it ends with the weights of an
 * uninterrupted run. (Skipping decodes the consumed batches again; that costs read time only.)
 *
 * @module
 */
import { describeOutOfMemory } from "../backend/out_of_memory.ts";
import { type Tensor3D, type Tensor4D, tf, type Variable } from "../backend/tf.ts";
import type { SampleTile } from "../data/reader.ts";
import { Adam } from "./adam.ts";
import { saveTrainingCheckpoint, type TrainingCheckpoint } from "./checkpoint.ts";
import type { EmbeddingCache } from "./embedding_cache.ts";
import { type LossWeights, segmentationLoss } from "./loss.ts";
import { batchGradients } from "./micro_batch.ts";
import { checkSchedule, learningRateAt, type LearningRateSchedule } from "./schedule.ts";
import { stepGradients } from "./step_gradients.ts";
import { tilesToBatch } from "./tile_batch.ts";
import type { TrainableModel } from "./trainable.ts";
import { maskGradients, maskTensors } from "./update_masks.ts";

/** One line of the training log. */
export interface TrainLogRecord {
  /** Steps done (1 after the first update). */
  step: number;
  epoch: number;
  /** Loss of the latest step. */
  loss: number;
  /** Learning rate of the latest step. */
  lr: number;
  /** Wall-clock seconds since this call of `train` started. */
  seconds: number;
  /** Validation mIoU (percent), on the steps where validation ran. */
  valMiou?: number;
  /** Validation AP50 (percent) instead, for `validationMetric: "ap50"` (detection). */
  valAp50?: number;
}

/**
 * Where the batches of a run come from: a `SegmentationReader`, or a task's reader (detection).
 * The file order of an epoch must be a pure function of (`options.seed`, epoch).
 */
export interface BatchSource<Batch> {
  readonly options: { readonly seed?: number };
  batches(batchSize: number, epoch: number): AsyncIterable<Batch>;
}

/** A batch as a step uses it: the model's input and the loss of the model's output on it. */
export interface PreparedBatch<Out> {
  /** `[B, S, S, 3]` normalised, padded images. */
  images: Tensor4D;
  /** The model's output -> scalar loss. */
  loss(output: Out): tf.Scalar;
  /** Frees what the batch holds on the backend. */
  dispose(): void;
  /**
   * Segmentation batches only: their tiles (the embedding cache's keys) and labels, so that the
   * step can run in micro-batches (the segmentation loss is written as sums over samples,
   * lib/train/micro_batch.ts) and reuse cached image embeddings.
   */
  segmentation?: { tiles: readonly SampleTile[]; labels: Tensor3D; weights?: LossWeights };
  /**
   * Optional: called before the step with the model's forward pass (untaped), for a loss that
   * must read the predictions first and cannot do it synchronously inside the gradient
   * computation (detection matching on webgpu). It disposes what `forward` returns.
   */
  beforeStep?(forward: (images: Tensor4D) => Out): Promise<void>;
}

/** Options of {@link train}. */
export interface TrainOptions<Batch = readonly SampleTile[], Out = Tensor4D> {
  /** Epochs to run (passes over `reader.batches`); unbounded when only `maxSteps` is given. */
  epochs?: number;
  /** Stop after this many steps in total (counting steps before a resume). */
  maxSteps?: number;
  /** Tiles per step (the thesis: 4). */
  batchSize: number;
  /**
   * Tiles per pass of the model when a batch does not fit at once: the step's gradient is then
   * accumulated over micro-batches, one optimiser update (lib/train/micro_batch.ts; the same step
   * as one batch, to float rounding). Default: the whole batch.
   */
  microBatch?: number;
  /**
   * Frozen-encoder outputs kept between epochs (lib/train/embedding_cache.ts); used only when the
   * model has a frozen front (`frozenSplit`: nothing in the encoder trains).
   */
  embeddingCache?: EmbeddingCache;
  /** A constant rate or a schedule; default 1e-4. A cosine schedule without `totalSteps` uses `maxSteps`. */
  learningRate?: number | LearningRateSchedule;
  /** Adam weight decay; default 1e-4 (the thesis). */
  weightDecay?: number;
  /** AdamW's decoupled decay instead of classic L2; default false (see lib/train/adam.ts). */
  decoupledWeightDecay?: boolean;
  /** Loss term weights of the default (segmentation) batches; default 0.2 cross-entropy + 0.8 Dice. */
  loss?: LossWeights;
  /**
   * Turns a batch into the model's input and its loss; default: tiles with class labels and
   * the segmentation loss (`loss`'s weights). A task's training (detection) passes its own.
   */
  prepareBatch?: (batch: Batch) => PreparedBatch<Out>;
  /** The data-order seed; when given it must equal the reader's `seed`. */
  seed?: number;
  /** Emit a log record every this many steps; default 1. */
  logEvery?: number;
  /** Write a checkpoint every this many steps (and always at the end or on abort). */
  saveEvery?: number;
  /** Folder that receives `checkpoint/` (see lib/train/checkpoint.ts). */
  checkpointDir?: string;
  /** Receives log records; the library never prints. */
  onLog?: (record: TrainLogRecord) => void;
  /** Receives every checkpoint state (in addition to, or instead of, `checkpointDir`). */
  onCheckpoint?: (state: TrainingCheckpoint) => void | Promise<void>;
  /** When aborted: the current step finishes, a checkpoint is saved, `train` returns `stopped`. */
  signal?: AbortSignal;
  /** Continue from this checkpoint (variables, Adam state, step and data position). */
  resumeFrom?: TrainingCheckpoint;
  /** Validation returning mIoU (or `validationMetric`) in percent, run every `valEvery` steps. */
  validate?: () => Promise<number>;
  /** What `validate` returns: `miou` (default) or a detection run's `ap50`. */
  validationMetric?: "miou" | "ap50";
  /** Steps between validations (needs `validate`). */
  valEvery?: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** True when `signal` stopped the run before its end. */
  stopped: boolean;
  /** Steps done in total. */
  step: number;
  /** Epoch the next step would come from. */
  epoch: number;
  /** Loss of the last step (`null` when no step ran). */
  loss: number | null;
}

/**
 * Trains `model` on the tiles of `reader` (built with a `seed` for shuffled epochs).
 *
 * @example
 * ```ts ignore
 * const reader = new SegmentationReader(split, { size: 1024, seed: 0 });
 * const result = await train(model, reader, {
 *   epochs: 10, batchSize: 4, learningRate: 1e-4, weightDecay: 1e-4,
 *   checkpointDir: "runs/kvasir", saveEvery: 500, onLog: (r) => console.log(r),
 * });
 * ```
 */
export async function train<Batch = readonly SampleTile[], Out = Tensor4D>(
  model: TrainableModel<Out>,
  reader: BatchSource<Batch>,
  options: TrainOptions<Batch, Out>,
): Promise<TrainResult> {
  const started = performance.now();
  const { batchSize, maxSteps = Infinity, logEvery = 1, resumeFrom } = options;
  const epochs = options.epochs ?? (options.maxSteps !== undefined ? Infinity : undefined);
  if (epochs === undefined) throw new RangeError("Training needs epochs or maxSteps");
  const schedule = resolveSchedule(options);
  const readerSeed = reader.options.seed ?? null;
  if (options.seed !== undefined && options.seed !== readerSeed) {
    throw new RangeError(
      `Training seed ${options.seed} differs from the reader's seed ${readerSeed}`,
    );
  }
  const prepareBatch = options.prepareBatch ??
    ((tiles: Batch) =>
      segmentationBatch(tiles as readonly SampleTile[], options.loss) as unknown as PreparedBatch<
        Out
      >);
  const variables = model.trainableVariables();
  // tf.variableGrads keys gradients by the variables' own (unique) tfjs names.
  const variableList = [...variables.values()];
  const nameOf = new Map([...variables].map(([name, variable]) => [variable.name, name]));
  const adam = new Adam(variables, {
    weightDecay: options.weightDecay ?? 1e-4,
    decoupledWeightDecay: options.decoupledWeightDecay ?? false,
  });

  let step = 0;
  let epoch = 0;
  let skip = 0; // batches of `epoch` consumed before a resume
  if (resumeFrom) {
    if (resumeFrom.seed !== readerSeed) {
      throw new RangeError(
        `Cannot resume: the checkpoint's data seed is ${resumeFrom.seed}, the reader's is ${readerSeed}`,
      );
    }
    restoreVariables(variables, resumeFrom);
    adam.importState(resumeFrom.optimizer);
    ({ step, epoch, batchInEpoch: skip } = resumeFrom);
  }

  let batchInEpoch = 0; // batches of `epoch` consumed, skipped ones included
  let lastSaved = step;
  let loss: number | null = null;
  const checkpoint = async () => {
    const state = await captureState(variables, adam, {
      step,
      epoch,
      batchInEpoch,
      seed: readerSeed,
      options: jsonOptions(options, schedule),
    });
    if (options.checkpointDir !== undefined) {
      await saveTrainingCheckpoint(options.checkpointDir, state);
    }
    await options.onCheckpoint?.(state);
    lastSaved = step;
  };
  const wantsCheckpoints = options.checkpointDir !== undefined || options.onCheckpoint;
  let failed = false;

  try {
    for (; epoch < epochs && step < maxSteps; epoch++, skip = 0, batchInEpoch = 0) {
      for await (const tiles of reader.batches(batchSize, epoch)) {
        if (batchInEpoch < skip) {
          batchInEpoch++;
          continue;
        }
        const lr = learningRateAt(step, schedule);
        const prepared = prepareBatch(tiles);
        try {
          loss = await trainStep(model, adam, prepared, {
            step,
            lr,
            variables: variableList,
            nameOf,
            microBatch: options.microBatch,
            embeddingCache: options.embeddingCache,
          });
        } catch (error) {
          const [count, size] = prepared.images.shape;
          const passes = Math.min(options.microBatch ?? count, count);
          throw describeOutOfMemory(
            error,
            `training step ${step + 1} on ${count} tiles of ${size} px (${passes} per pass)`,
            "fewer tiles per pass, a smaller batch or a smaller image size need less",
          );
        }
        step++;
        batchInEpoch++;

        const validating = options.validate && options.valEvery && step % options.valEvery === 0;
        if (step % logEvery === 0 || validating) {
          const record: TrainLogRecord = {
            step,
            epoch,
            loss,
            lr,
            seconds: (performance.now() - started) / 1000,
          };
          if (validating) {
            const score = await options.validate!();
            if (options.validationMetric === "ap50") record.valAp50 = score;
            else record.valMiou = score;
          }
          options.onLog?.(record);
        }
        if (options.signal?.aborted) {
          if (wantsCheckpoints) await checkpoint();
          return { stopped: true, step, epoch, loss };
        }
        if (wantsCheckpoints && options.saveEvery && step % options.saveEvery === 0) {
          await checkpoint();
        }
        if (step >= maxSteps) break;
      }
      // An epoch left early (maxSteps) is resumed mid-epoch; a finished one moves on.
      if (step >= maxSteps) break;
    }
    if (wantsCheckpoints && lastSaved !== step) await checkpoint();
    return { stopped: false, step, epoch, loss };
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    disposeAdam(adam, failed);
  }
}

/** Frees Adam's moments; after a failure (a backend out of memory may fail again) quietly. */
function disposeAdam(adam: Adam, afterFailure: boolean): void {
  try {
    adam.dispose();
  } catch (error) {
    // The first error is the one to see.
    if (!afterFailure) throw error;
  }
}

/** Segmentation tiles as a step uses them: images, and the loss against their labels. */
function segmentationBatch(
  tiles: readonly SampleTile[],
  weights?: LossWeights,
): PreparedBatch<Tensor4D> {
  const { images, labels } = tilesToBatch(tiles);
  if (!labels) {
    images.dispose();
    throw new TypeError("Training needs labelled tiles (reader built with labels)");
  }
  return {
    images,
    loss: (logits) => segmentationLoss(logits, labels, weights),
    dispose: () => tf.dispose([images, labels]),
    segmentation: { tiles, labels, weights },
  };
}

/** One optimisation step; returns its loss. Every tensor it makes is freed before it returns. */
async function trainStep<Out>(
  model: TrainableModel<Out>,
  adam: Adam,
  batch: PreparedBatch<Out>,
  context: {
    step: number;
    lr: number;
    variables: Variable[];
    nameOf: Map<string, string>;
    microBatch?: number;
    embeddingCache?: EmbeddingCache;
  },
): Promise<number> {
  const { images } = batch;
  const masks = model.gradientMasks?.(context.step);
  let features: tf.Tensor | undefined;
  try {
    // Detection's matching may need the step's prediction first; MoSA's draws are pass 0's.
    await batch.beforeStep?.((x) => {
      model.prepareTrainingPass?.({ step: context.step, pass: 0 });
      try {
        return model.forward(x);
      } finally {
        model.prepareTrainingPass?.(undefined);
      }
    });
    const segmentation = batch.segmentation;
    if (!segmentation && context.microBatch !== undefined && context.microBatch < images.shape[0]) {
      throw new RangeError(
        "Micro-batches need the segmentation loss (it is written as sums over samples); " +
          "this task's batches run whole",
      );
    }
    const split = segmentation && context.embeddingCache && model.frozenSplit?.();
    if (split) {
      features = await context.embeddingCache!.features(
        segmentation.tiles,
        (tiles) => split.features(tiles),
        images,
        context.microBatch,
      );
    }
    // Past a frozen encoder, or block by block when the encoder trains (see modelGradients), in
    // micro-batches when asked, each forward pass prepared on the model (MoSA's draws and
    // consistency term). Segmentation batches have Out = class logits (segmentationBatch).
    const { value, grads } = segmentation
      ? batchGradients(
        model as unknown as TrainableModel,
        images,
        segmentation.labels,
        context.variables,
        {
          step: context.step,
          microBatch: context.microBatch,
          loss: segmentation.weights,
          features,
        },
      )
      : stepGradients(
        model,
        images,
        (output) => batch.loss(output),
        context.variables,
        context.step,
      );
    const gradients = new Map<string, tf.Tensor>();
    for (const [tfName, gradient] of Object.entries(grads)) {
      gradients.set(context.nameOf.get(tfName)!, gradient);
    }
    if (masks) maskGradients(gradients, masks);
    adam.applyGradients(gradients, context.lr, masks);
    tf.dispose([...gradients.values()]);
    const loss = (await value.data())[0]!;
    value.dispose();
    if (!Number.isFinite(loss)) {
      throw new RangeError(`Training loss became ${loss} at step ${context.step + 1}`);
    }
    return loss;
  } finally {
    batch.dispose();
    tf.dispose([...maskTensors(masks), ...(features ? [features] : [])]);
  }
}

function resolveSchedule<Batch, Out>(options: TrainOptions<Batch, Out>): LearningRateSchedule {
  const given = options.learningRate ?? 1e-4;
  const schedule = typeof given === "number" ? { base: given } : { ...given };
  if (schedule.decay === "cosine" && schedule.totalSteps === undefined) {
    if (options.maxSteps === undefined) {
      throw new RangeError("A cosine learning-rate schedule needs totalSteps or maxSteps");
    }
    schedule.totalSteps = options.maxSteps;
  }
  checkSchedule(schedule);
  return schedule;
}

function restoreVariables(variables: Map<string, Variable>, state: TrainingCheckpoint): void {
  for (const [name, variable] of variables) {
    const saved = state.variables.get(name);
    if (!saved) throw new Error(`Cannot resume: the checkpoint has no variable "${name}"`);
    if (saved.shape.join() !== variable.shape.join()) {
      throw new RangeError(
        `Cannot resume: variable "${name}" has shape [${saved.shape}] in the checkpoint, ` +
          `[${variable.shape}] in the model`,
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(saved.data, variable.shape, "float32")));
  }
}

async function captureState(
  variables: Map<string, Variable>,
  adam: Adam,
  position: Omit<TrainingCheckpoint, "variables" | "optimizer">,
): Promise<TrainingCheckpoint> {
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, variable] of variables) {
    values.set(name, {
      shape: [...variable.shape],
      data: new Float32Array(await variable.data() as Float32Array),
    });
  }
  return { ...position, variables: values, optimizer: await adam.exportState() };
}

function jsonOptions<Batch, Out>(
  options: TrainOptions<Batch, Out>,
  schedule: LearningRateSchedule,
): Record<string, unknown> {
  return {
    epochs: options.epochs ?? null,
    maxSteps: options.maxSteps ?? null,
    batchSize: options.batchSize,
    microBatch: Math.min(options.microBatch ?? options.batchSize, options.batchSize),
    learningRate: schedule,
    weightDecay: options.weightDecay ?? 1e-4,
    decoupledWeightDecay: options.decoupledWeightDecay ?? false,
    loss: options.loss ?? {},
  };
}
