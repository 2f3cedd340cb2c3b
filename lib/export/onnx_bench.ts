/**
 * The exported image encoder's onnxruntime CPU time beside mopeft's own forward: for each
 * method, the run's `encoder.onnx` (built in memory from a fresh run of that method over the
 * same weights) timed in onnxruntime-node on one image.
 *
 * @module
 */
import { summariseTimings, type TimingSummary } from "../bench/timing_summary.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { mulberry32 } from "../nn/prng.ts";
import { validatePeftConfig } from "../peft/config.ts";
import { PeftModel } from "../peft/peft_model.ts";
import type { MethodName } from "../peft/registry.ts";
import { buildEncoderGraph } from "./encoder_graph.ts";
import { encodeOnnxModel } from "./onnx_file.ts";
import { openOnnxSession } from "./onnx_runtime.ts";

/** Options of {@link benchOnnxEncoders}. */
export interface OnnxBenchOptions {
  methods: readonly MethodName[];
  runs: number;
  warmup: number;
  /** Called with one line per finished run (the library never prints). */
  onProgress?: (message: string) => void;
}

/** One method's exported-encoder timings (batch 1). */
export interface OnnxEncoderBench {
  method: MethodName | "plain";
  /** Bytes of the graph's weights. */
  weightBytes: number;
  /** Session creation (graph optimisation included), ms. */
  loadMs: number;
  forward: TimingSummary;
}

/**
 * Times the plain encoder's and each method's exported encoder in onnxruntime (CPU, all
 * optimisations), batch 1, median of `runs` after `warmup`.
 *
 * @example
 * ```ts ignore
 * const results = await benchOnnxEncoders(weights, { methods: ["mopeft"], runs: 3, warmup: 1 });
 * ```
 */
export async function benchOnnxEncoders(
  weights: ModelWeights,
  options: OnnxBenchOptions,
): Promise<OnnxEncoderBench[]> {
  const progress = options.onProgress ?? (() => {});
  const size = weights.architecture.encoder.imageSize;
  const random = mulberry32(1);
  const image = Float32Array.from({ length: 3 * size * size }, () => Math.floor(random() * 256));
  const results: OnnxEncoderBench[] = [];
  for (const method of ["plain" as const, ...options.methods]) {
    const config = validatePeftConfig({ method: method === "plain" ? "decoder" : method });
    const model = PeftModel.create(weights, config, { numClasses: 2, seed: 1 });
    let bytes: Uint8Array;
    let weightBytes: number;
    try {
      const graph = buildEncoderGraph(model.weights(), config, await model.exportTensors());
      weightBytes = graph.initializerBytes;
      bytes = encodeOnnxModel(graph).model;
    } finally {
      model.dispose();
    }
    const begin = performance.now();
    const session = await openOnnxSession(bytes);
    const loadMs = performance.now() - begin;
    const samples: number[] = [];
    try {
      for (let i = 0; i < options.warmup + options.runs; i++) {
        const start = performance.now();
        await session.run({ image: { data: image, dims: [1, 3, size, size] } });
        const elapsed = performance.now() - start;
        if (i >= options.warmup) samples.push(elapsed);
        progress(`onnxruntime ${method} run ${i + 1}: ${elapsed.toFixed(0)} ms`);
      }
    } finally {
      await session.close();
    }
    results.push({ method, weightBytes, loadMs, forward: summariseTimings(samples) });
  }
  return results;
}
