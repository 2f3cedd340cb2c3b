/**
 * Timing SAM's image encoder and one training step per fine-tuning method, on the active
 * backend.
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import { encodeImage } from "../encoder/image_encoder.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { validatePeftConfig } from "../peft/config.ts";
import { PeftModel } from "../peft/peft_model.ts";
import { type MethodName, methodSpec } from "../peft/registry.ts";
import { Adam } from "../train/adam.ts";
import { type MemoryPeak, MemorySampler } from "./memory_sampler.ts";
import { profileTrainStep, type StepProfile } from "./step_profile.ts";
import { summariseTimings, type TimingSummary } from "./timing_summary.ts";
import { trainStep } from "./train_step.ts";
import { planMicroBatch } from "../train/memory_budget.ts";

/** Options of {@link benchModel}. */
export interface ModelBenchOptions {
  /** Images per batch. */
  batch: number;
  /** Methods whose encoder forward and training step are timed. */
  methods: readonly MethodName[];
  /** Timed runs of each measurement (at least 1). */
  runs: number;
  /** Untimed runs before them (compilation, allocation). */
  warmup: number;
  /** Classes of the semantic head; default 2. */
  numClasses?: number;
  /** Seeds the images, labels and PEFT modules; default 1. */
  seed?: number;
  /**
   * MoSA's consistency weight for `mosa` (and MoSA adapters); default the method's (1). 0 times
   * MoSA's step without the consistency term's second pass.
   */
  mosaConsistency?: number;
  /**
   * Tiles per pass of a training step (lib/train/micro_batch.ts); default: what the trainer would
   * choose for the backend's memory (lib/train/memory_budget.ts).
   */
  microBatch?: number;
  /**
   * Also profile one more training step per method (per tfjs kernel and per encoder stage,
   * under `tf.profile`); default false.
   */
  profile?: boolean;
  /** Called with one line per finished run (the library never prints). */
  onProgress?: (message: string) => void;
}

/** Timings of one measurement with the memory peak over its runs (warm-up included). */
export type Measurement = TimingSummary & MemoryPeak;

/** One method's results. */
export interface MethodBench {
  method: MethodName;
  /** Values the method trains (PEFT modules, gates and the semantic decoder). */
  trainableValues: number;
  /**
   * Image-encoder forward with the method's modules; null for methods that add none to the
   * encoder (`decoder`, `full`: their forward is the plain one).
   */
  forward: (Measurement & { overPlain: number }) | null;
  /** Forward, loss, backward and Adam update; null when it failed (see `error`). */
  trainStep: (Measurement & { loss: number; microBatch: number }) | null;
  /** Where one more step's time went, with `profile`; absent without it or on failure. */
  profile?: StepProfile;
  /** Why the training step failed (for example out of memory), when it did. */
  error?: string;
}

/** What {@link benchModel} returns. */
export interface ModelBenchResult {
  imageSize: number;
  batch: number;
  runs: number;
  warmup: number;
  /** The image-encoder forward without PEFT modules. */
  forward: Measurement;
  methods: MethodBench[];
  /** MoPEFT's encoder forward median over the plain one; null when `mopeft` was not timed. */
  mopeftOverPlain: number | null;
}

/**
 * Times the plain encoder forward, each method's encoder forward and each method's training step
 * (median of `runs` after `warmup`), with random images and labels, on the active backend.
 *
 * @example
 * ```ts ignore
 * const weights = randomSamWeights(TINY_SIZE, 1);
 * const result = await benchModel(weights, { batch: 1, methods: ["decoder", "mopeft"], runs: 3, warmup: 1 });
 * result.forward.medianMs;
 * weights.dispose();
 * ```
 */
export async function benchModel(
  weights: ModelWeights,
  options: ModelBenchOptions,
): Promise<ModelBenchResult> {
  const { batch, runs, warmup, methods } = options;
  const numClasses = options.numClasses ?? 2;
  const seed = options.seed ?? 1;
  const progress = options.onProgress ?? (() => {});
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`batch must be a positive integer, got ${batch}`);
  }
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(`runs must be a positive integer, got ${runs}`);
  }
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`warmup must be a non-negative integer, got ${warmup}`);
  }
  const side = weights.architecture.encoder.imageSize;
  const images = tf.randomNormal([batch, side, side, 3], 0, 1, "float32", seed) as Tensor4D;
  const labels = tf.tidy(() =>
    tf.randomUniform([batch, side, side], 0, numClasses, "int32", seed + 1)
  ) as Tensor3D;
  const sampler = new MemorySampler();
  let fatal: string | undefined;
  try {
    const timeForward = async (label: string, run: () => Tensor): Promise<Measurement> => {
      sampler.start();
      const samples: number[] = [];
      for (let i = 0; i < warmup + runs; i++) {
        const begin = performance.now();
        const out = run();
        await out.data();
        const elapsed = performance.now() - begin;
        sampler.sample();
        out.dispose();
        if (i >= warmup) samples.push(elapsed);
        progress(`${label} ${runDescription(i, warmup, runs)}: ${formatMs(elapsed)}`);
      }
      return { ...summariseTimings(samples), ...sampler.stop() };
    };

    const forward = await timeForward("forward plain", () => encodeImage(weights, images));
    const results: MethodBench[] = [];
    for (const method of methods) {
      if (fatal) {
        results.push({
          method,
          trainableValues: 0,
          forward: null,
          trainStep: null,
          error: `skipped: the backend stopped working (${fatal})`,
        });
        continue;
      }
      const config = validatePeftConfig({ method, mosaConsistency: options.mosaConsistency });
      const model = PeftModel.create(weights, config, { numClasses, seed });
      try {
        const variables = model.trainableVariables();
        const trainableValues = [...variables.values()].reduce((n, v) => n + v.size, 0);
        let methodForward: MethodBench["forward"] = null;
        if (methodSpec(method).modules.length > 0) {
          const extensions = model.extensions();
          const measured = await timeForward(
            `forward ${method}`,
            () => encodeImage(model.weights(), images, extensions),
          );
          methodForward = { ...measured, overPlain: ratio(measured.medianMs, forward.medianMs) };
        }
        const result: MethodBench = {
          method,
          trainableValues,
          forward: methodForward,
          trainStep: null,
        };
        const microBatch = options.microBatch ??
          planMicroBatch(weights.architecture.encoder, batch, model.frozenSplit() === undefined)
            .microBatch;
        try {
          const trained = await timeTraining(model, images, labels, {
            runs,
            warmup,
            sampler,
            microBatch,
            profile: options.profile ?? false,
            progress: (i, ms) =>
              progress(`train step ${method} ${runDescription(i, warmup, runs)}: ${formatMs(ms)}`),
          });
          result.trainStep = trained.measurement;
          if (trained.profile) {
            result.profile = trained.profile;
            progress(`train step ${method} profiled: ${formatMs(trained.profile.stepMs)}`);
          }
        } catch (error) {
          sampler.stopTimer();
          result.error = error instanceof Error ? error.message : String(error);
          progress(`train step ${method} failed: ${result.error}`);
          // An aborted wasm module (out of its 4 GiB heap) cannot run anything afterwards.
          if (/Aborted\(/.test(result.error)) fatal = result.error;
        }
        results.push(result);
      } finally {
        if (!fatal) model.dispose();
      }
    }
    const mopeft = results.find((r) => r.method === "mopeft")?.forward;
    return {
      imageSize: side,
      batch,
      runs,
      warmup,
      forward,
      methods: results,
      mopeftOverPlain: mopeft ? mopeft.overPlain : null,
    };
  } finally {
    sampler.stopTimer();
    if (!fatal) tf.dispose([images, labels]);
  }
}

async function timeTraining(
  model: PeftModel,
  images: Tensor4D,
  labels: Tensor3D,
  context: {
    runs: number;
    warmup: number;
    sampler: MemorySampler;
    microBatch: number;
    profile: boolean;
    progress: (index: number, ms: number) => void;
  },
): Promise<
  { measurement: Measurement & { loss: number; microBatch: number }; profile?: StepProfile }
> {
  const { runs, warmup, sampler } = context;
  // In a tidy scope: Adam's constructor leaves the zero tensors it makes its moments from.
  let adam!: Adam;
  tf.tidy(() => {
    adam = new Adam(model.trainableVariables(), { weightDecay: 1e-4 });
  });
  try {
    sampler.start();
    const samples: number[] = [];
    let loss = NaN;
    for (let step = 0; step < warmup + runs; step++) {
      const begin = performance.now();
      loss = await trainStep(model, adam, images, labels, step, {
        onPeak: () => sampler.sample(),
        microBatch: context.microBatch,
      });
      const elapsed = performance.now() - begin;
      if (step >= warmup) samples.push(elapsed);
      context.progress(step, elapsed);
    }
    const measurement = {
      ...summariseTimings(samples),
      ...sampler.stop(),
      loss: Math.round(loss * 1e4) / 1e4,
      microBatch: Math.min(context.microBatch, images.shape[0]),
    };
    // After the timed steps and outside the memory sampling: profiling slows every kernel a little.
    const profile = context.profile
      ? await profileTrainStep(model, adam, images, labels, warmup + runs, {
        microBatch: context.microBatch,
      })
      : undefined;
    return { measurement, profile };
  } finally {
    adam.dispose();
  }
}

function runDescription(index: number, warmup: number, runs: number): string {
  return index < warmup ? `warm-up ${index + 1}/${warmup}` : `run ${index - warmup + 1}/${runs}`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 1000) / 1000;
}
