/** Ours over PyTorch's medians, by hand: encoder passes per method, whole LoRA steps per PEFT. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { ModelBenchResult } from "../../lib/bench/model_bench.ts";
import type { TimingSummary } from "../../lib/bench/timing_summary.ts";
import type { TorchBenchResult } from "../../lib/bench/torch_bench.ts";
import { torchRatios } from "../../lib/bench/torch_ratios.ts";

const timing = (medianMs: number): TimingSummary => ({
  minMs: medianMs,
  medianMs,
  maxMs: medianMs,
  samplesMs: [medianMs],
});

const step = (method: string, medianMs: number | null) => ({
  method,
  trainStep: medianMs === null ? null : { ...timing(medianMs) },
});

const ours = {
  forward: timing(900),
  methods: [step("decoder", 300), step("lora", 1400), step("mopeft", 2100), step("prefix", null)],
} as unknown as ModelBenchResult;

const torch = {
  forward: timing(1000),
  forwardBackwardFrozen: timing(2000),
  forwardBackwardFull: null,
  loraStep: timing(2800),
} as unknown as TorchBenchResult;

Deno.test("torchRatios(): ours over PyTorch per figure both sides measured", () => {
  assertEquals(torchRatios(ours, torch), {
    forward: 0.9,
    trainStepOverForwardBackward: { decoder: 0.15, lora: 0.7, mopeft: 1.05, prefix: null },
    // Only methods with encoder modules compare with the whole LoRA step.
    trainStepOverTorchLoraStep: { lora: 0.5, mopeft: 0.75, prefix: null },
  });
  assertEquals(torchRatios(ours, { ...torch, loraStep: null }).trainStepOverTorchLoraStep, null);
});
