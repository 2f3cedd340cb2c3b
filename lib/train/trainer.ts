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
import { tf, type Variable } from "../backend/tf.ts";
import type { SampleTile, SegmentationReader } from "../data/reader.ts";
import { Adam } from "./adam.ts";
import { saveTrainingCheckpoint, type TrainingCheckpoint } from "./checkpoint.ts";
import type { EmbeddingCache } from "./embedding_cache.ts";
import type { LossWeights } from "./loss.ts";
import { batchGradients } from "./micro_batch.ts";
import { checkSchedule, learningRateAt, type LearningRateSchedule } from "./schedule.ts";
import { tilesToBatch } from "./tile_batch.ts";
import type { TrainableModel } from "./trainable.ts";

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
}

/** Options of {@link train}. */
export interface TrainOptions {
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
  /** Loss term weights; default 0.2 cross-entropy + 0.8 Dice. */
  loss?: LossWeights;
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
  /** Validation returning mIoU in percent, run every `valEvery` steps. */
  validate?: () => Promise<number>;
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
export async function train(
  model: TrainableModel,
  reader: SegmentationReader,
  options: TrainOptions,
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
        try {
          loss = await trainStep(model, adam, tiles, {
            step,
            lr,
            variables: variableList,
            nameOf,
            loss: options.loss,
            microBatch: options.microBatch,
            embeddingCache: options.embeddingCache,
          });
        } catch (error) {
          const passes = Math.min(options.microBatch ?? tiles.length, tiles.length);
          throw describeOutOfMemory(
            error,
            `training step ${step + 1} on ${tiles.length} tiles of ${tiles[0]!.size} px ` +
              `(${passes} per pass)`,
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
          if (validating) record.valMiou = await options.validate!();
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

/** One optimisation step; returns its loss. Every tensor it makes is freed before it returns. */
async function trainStep(
  model: TrainableModel,
  adam: Adam,
  tiles: SampleTile[],
  context: {
    step: number;
    lr: number;
    variables: Variable[];
    nameOf: Map<string, string>;
    loss?: LossWeights;
    microBatch?: number;
    embeddingCache?: EmbeddingCache;
  },
): Promise<number> {
  const { images, labels } = tilesToBatch(tiles);
  const masks = model.gradientMasks?.(context.step);
  const split = context.embeddingCache && model.frozenSplit?.();
  let features: tf.Tensor | undefined;
  try {
    if (!labels) throw new TypeError("Training needs labelled tiles (reader built with labels)");
    if (split) {
      features = await context.embeddingCache!.features(
        tiles,
        (batch) => split.features(batch),
        images,
        context.microBatch,
      );
    }
    // Past a frozen encoder, or block by block when the encoder trains (see modelGradients), in
    // micro-batches when asked.
    const { value, grads } = batchGradients(model, images, labels, context.variables, {
      microBatch: context.microBatch,
      loss: context.loss,
      features,
    });
    const gradients = new Map<string, tf.Tensor>();
    for (const [tfName, gradient] of Object.entries(grads)) {
      gradients.set(context.nameOf.get(tfName)!, gradient);
    }
    if (masks) {
      for (const [name, mask] of masks) {
        const gradient = gradients.get(name);
        if (!gradient) throw new Error(`Gradient mask for unknown variable "${name}"`);
        gradients.set(name, tf.mul(gradient, mask));
        gradient.dispose();
      }
    }
    adam.applyGradients(gradients, context.lr, masks);
    tf.dispose([...gradients.values()]);
    const loss = (await value.data())[0]!;
    value.dispose();
    if (!Number.isFinite(loss)) {
      throw new RangeError(`Training loss became ${loss} at step ${context.step + 1}`);
    }
    return loss;
  } finally {
    tf.dispose([
      images,
      ...(labels ? [labels] : []),
      ...(masks ? masks.values() : []),
      ...(features ? [features] : []),
    ]);
  }
}

function resolveSchedule(options: TrainOptions): LearningRateSchedule {
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

function jsonOptions(
  options: TrainOptions,
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
