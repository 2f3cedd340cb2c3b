/**
 * Benchmarks of SAM fine-tuning: encoder forward and training-step timings per method, peak
 * memory, the machine, and the comparison with the official PyTorch code.
 *
 * @example
 * ```ts ignore
 * import { benchModel, randomSamWeights, benchSize } from "./lib/bench/mod.ts";
 * const weights = randomSamWeights(benchSize("tiny"), 1);
 * const result = await benchModel(weights, { batch: 1, methods: ["mopeft"], runs: 3, warmup: 1 });
 * ```
 *
 * @module
 */
export * from "./bench_sizes.ts";
export * from "./machine_info.ts";
export * from "./memory_sampler.ts";
export * from "./model_bench.ts";
export * from "./random_weights.ts";
export * from "./reader_bench.ts";
export * from "./step_profile.ts";
export * from "./timing_summary.ts";
export * from "./torch_bench.ts";
export * from "./torch_memory.ts";
export * from "./torch_ratios.ts";
export * from "./train_step.ts";
