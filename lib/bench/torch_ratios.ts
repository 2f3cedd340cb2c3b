/**
 * How mopeft's timings compare with the official PyTorch code's on the same machine.
 *
 * @module
 */
import { methodSpec } from "../peft/registry.ts";
import type { ModelBenchResult } from "./model_bench.ts";
import type { TorchBenchResult } from "./torch_bench.ts";

/** Median ratios, ours over PyTorch's (above 1: mopeft is slower). */
export interface TorchRatios {
  /** Plain image-encoder forward. */
  forward: number;
  /**
   * Per method: our whole training step (encoder, decoder, loss, backward, Adam) over PyTorch's
   * encoder forward + backward (frozen parameters for PEFT methods, every parameter for `full`).
   * An upper bound on the slowdown: PyTorch's figure leaves out the decoder and the update.
   */
  trainStepOverForwardBackward: Record<string, number | null>;
  /**
   * Per method with encoder modules: our whole training step over PyTorch's whole LoRA step
   * (official SAM with LoRA r 8 on q, v, the semantic decoder, the same loss, Adam): like for
   * like for `lora`, the price of the method's other modules for the others. Null when PyTorch's
   * step was not timed.
   */
  trainStepOverTorchLoraStep: Record<string, number | null> | null;
}

/**
 * Ours / PyTorch for the figures both sides measured.
 *
 * @example
 * ```ts ignore
 * const ratios = torchRatios(ours, torch);
 * ratios.forward; // e.g. 1.4
 * ```
 */
export function torchRatios(ours: ModelBenchResult, torch: TorchBenchResult): TorchRatios {
  const trainStep: Record<string, number | null> = {};
  for (const method of ours.methods) {
    const reference = method.method === "full"
      ? torch.forwardBackwardFull
      : torch.forwardBackwardFrozen;
    trainStep[method.method] = method.trainStep && reference
      ? ratio(method.trainStep.medianMs, reference.medianMs)
      : null;
  }
  let overLoraStep: Record<string, number | null> | null = null;
  if (torch.loraStep) {
    overLoraStep = {};
    for (const method of ours.methods) {
      if (methodSpec(method.method).modules.length === 0) continue;
      overLoraStep[method.method] = method.trainStep
        ? ratio(method.trainStep.medianMs, torch.loraStep.medianMs)
        : null;
    }
  }
  return {
    forward: ratio(ours.forward.medianMs, torch.forward.medianMs),
    trainStepOverForwardBackward: trainStep,
    trainStepOverTorchLoraStep: overLoraStep,
  };
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 1000) / 1000;
}
