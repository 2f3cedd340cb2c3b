/**
 * Where a training step's time goes: per tfjs kernel (from `tf.profile`) and per encoder stage
 * (from the staged gradients' timings).
 *
 * @module
 */
import { type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import type { PeftModel } from "../peft/peft_model.ts";
import type { Adam } from "../train/adam.ts";
import type { StageTiming } from "../train/staged_gradients.ts";
import { trainStep } from "./train_step.ts";

/** One kernel's total over the step. */
export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
  /** `ms` over the step's wall time. */
  share: number;
}

/** One kernel at one set of input shapes. */
export interface KernelShapeTime extends KernelTime {
  inputShapes: (number[] | null)[];
}

/** One stage's (or the taped tail's) times in the staged backward pass. */
export interface StageProfile {
  /** `embed`, `block <i>`, `head` (the neck, decoder and loss), or a tail: `block 10 .. head`. */
  stage: string;
  forwardMs: number;
  tapedForwardMs: number;
  backwardMs: number;
  totalMs: number;
  /** MiB its tape kept (distinct buffers, to the KiB). */
  tapeMiB: number;
  /**
   * Which gradient pass through the chain it belongs to, in the order they ran: one per
   * micro-batch (two with MoSA's consistency term); 0 when the batch ran whole.
   */
  pass: number;
}

/** What {@link profileTrainStep} returns. */
export interface StepProfile {
  /** The profiled step's wall time (profiling adds a little per kernel). */
  stepMs: number;
  /** The sum of every kernel's time; below `stepMs` by the JavaScript between kernels. */
  kernelMs: number;
  kernelCalls: number;
  /** Per kernel name, slowest first. */
  kernels: KernelTime[];
  /** The `top` slowest (kernel, input shapes) pairs. */
  kernelShapes: KernelShapeTime[];
  /**
   * Custom-gradient ops (`tf.customGrad`: chunked attention, plain products), each with the time
   * of the kernels it ran, which `kernels` counts already.
   */
  scopes: { scope: string; calls: number; ms: number; share: number }[];
  /** Tiles per pass of the model (the batch when it ran whole). */
  microBatch: number;
  /**
   * Per gradient pass (micro-batch, in the order they ran), per stage in the order of the forward pass; empty
   * when the step took its gradients in one tape (the decoder-only step, past the frozen
   * encoder).
   */
  stages: StageProfile[];
}

/** Options of {@link profileTrainStep}. */
export interface StepProfileOptions {
  /** How many (kernel, shapes) pairs to keep; default 25. */
  top?: number;
  /** Tiles per pass of the model, as the timed steps take it (lib/train/micro_batch.ts). */
  microBatch?: number;
}

/**
 * Runs one training step under `tf.profile` and sums its kernels' times by name and by input
 * shapes, with the time of each stage of the staged gradients. Kernel times are wall times of
 * synchronous kernels on cpu and wasm; on webgpu they are GPU times where the device reports them.
 *
 * A step in micro-batches is profiled as it runs: its stages are listed per micro-batch.
 *
 * @example
 * ```ts ignore
 * const profile = await profileTrainStep(model, adam, images, labels, 0);
 * profile.kernels[0]; // e.g. { kernel: "BatchMatMul", calls: 480, ms: 4100, share: 0.52 }
 * ```
 */
export async function profileTrainStep(
  model: PeftModel,
  adam: Adam,
  images: Tensor4D,
  labels: Tensor3D,
  step: number,
  options: StepProfileOptions = {},
): Promise<StepProfile> {
  const top = options.top ?? 25;
  const microBatch = Math.min(options.microBatch ?? images.shape[0], images.shape[0]);
  const timings: (StageTiming & { pass: number })[] = [];
  let last = 0;
  let pass = -1;
  const begin = performance.now();
  const info = await tf.profile(async () => {
    await trainStep(model, adam, images, labels, step, {
      microBatch,
      onStageTimed: (timing) => {
        // Each gradient pass through the chain times its tail (through the last stage) first.
        last = Math.max(last, timing.through);
        if (timing.through === last) pass++;
        timings.push({ ...timing, pass });
      },
    });
    return [];
  });
  const stepMs = performance.now() - begin;

  const byName = new Map<string, { calls: number; ms: number }>();
  const byShape = new Map<
    string,
    { kernel: string; shapes: (number[] | null)[]; calls: number; ms: number }
  >();
  const scopeByName = new Map<string, { calls: number; ms: number }>();
  const backend = tf.getBackend();
  let kernelMs = 0;
  for (const kernel of info.kernels) {
    const ms = typeof kernel.kernelTimeMs === "number" ? kernel.kernelTimeMs : 0;
    // A custom-gradient op is no kernel: its time is that of the kernels it ran, listed too.
    if (!tf.getKernel(kernel.name, backend)) {
      const scope = scopeByName.get(kernel.name) ?? { calls: 0, ms: 0 };
      scope.calls++;
      scope.ms += ms;
      scopeByName.set(kernel.name, scope);
      continue;
    }
    kernelMs += ms;
    const named = byName.get(kernel.name) ?? { calls: 0, ms: 0 };
    named.calls++;
    named.ms += ms;
    byName.set(kernel.name, named);
    const key = `${kernel.name} ${JSON.stringify(kernel.inputShapes)}`;
    const shaped = byShape.get(key) ??
      { kernel: kernel.name, shapes: kernel.inputShapes, calls: 0, ms: 0 };
    shaped.calls++;
    shaped.ms += ms;
    byShape.set(key, shaped);
  }
  const share = (ms: number) => Math.round((ms / stepMs) * 1000) / 1000;
  const kernels = [...byName].map(([kernel, { calls, ms }]) => ({
    kernel,
    calls,
    ms: round(ms),
    share: share(ms),
  })).sort((a, b) => b.ms - a.ms);
  const scopes = [...scopeByName].map(([scope, { calls, ms }]) => ({
    scope,
    calls,
    ms: round(ms),
    share: share(ms),
  })).sort((a, b) => b.ms - a.ms);
  const kernelShapes = [...byShape.values()].sort((a, b) => b.ms - a.ms).slice(0, top)
    .map(({ kernel, shapes, calls, ms }) => ({
      kernel,
      inputShapes: shapes,
      calls,
      ms: round(ms),
      share: share(ms),
    }));
  const name = (stage: number) =>
    stage === 0 ? "embed" : stage === last ? "head" : `block ${stage - 1}`;
  const stages = timings.sort((a, b) => a.pass - b.pass || a.stage - b.stage).map((
    t,
  ) => ({
    stage: t.through === t.stage ? name(t.stage) : `${name(t.stage)} .. ${name(t.through)}`,
    forwardMs: round(t.forwardMs),
    tapedForwardMs: round(t.tapedForwardMs),
    backwardMs: round(t.backwardMs),
    totalMs: round(t.forwardMs + t.tapedForwardMs + t.backwardMs),
    // To the KiB: a small model's tapes are a few.
    tapeMiB: Math.round(t.tapeBytes / 2 ** 10) / 2 ** 10,
    pass: t.pass,
  }));
  return {
    stepMs: round(stepMs),
    kernelMs: round(kernelMs),
    kernelCalls: info.kernels.length,
    microBatch,
    kernels,
    kernelShapes,
    scopes,
    stages,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
