/**
 * The 200-step leak soak the per-backend soak tests run: MoPEFT (gates, prefixes with their
 * reparameterisation, LoRA, adapters, the decoder) trained through `train()` on the synthetic
 * fixture must hold exactly as many tensors and bytes after step 200 as after step 10.
 *
 * The model is the smallest SAM that still takes every path of a real one: 32 px (a 2x2 token
 * grid), one windowed block (window 3, so the grid is padded) and one global block, two heads.
 * Steps cost little more than tfjs's per-op overhead, which is what lets 200 of them be a test.
 *
 * @module
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import type { SamSize } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import type { EmbeddingCache } from "../../lib/train/embedding_cache.ts";
import { train } from "../../lib/train/trainer.ts";
import { onBackend } from "../_backends.ts";
import { randomSam, SMALL_CONFIG } from "../peft/_helpers.ts";

/** 32 px, 2 blocks (windowed, global); the decoder's 8 heads need 16 output channels. */
export const SOAK_SIZE: SamSize = {
  imageSize: 32,
  embedDim: 8,
  depth: 2,
  numHeads: 2,
  windowSize: 3,
  globalBlocks: [1],
  outChans: 16,
  decoderMlpDim: 16,
  iouHeadHiddenDim: 8,
};

const STEPS = 200;
const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;

/** What the soak saw: memory after step 10 and after `train()` returned, and the losses. */
export interface SoakResult {
  settled: { numTensors: number; numBytes: number };
  losses: number[];
}

/** What else a soak may exercise: micro-batches, the embedding cache (decoder only). */
export interface SoakOptions {
  /** Default `mopeft`. */
  method?: "mopeft" | "decoder";
  /** Default 1. */
  batchSize?: number;
  microBatch?: number;
  embeddingCache?: EmbeddingCache;
}

/** Trains 200 steps on `backend` (MoPEFT by default); throws at the first step whose memory differs. */
export async function soak(
  backend: "cpu" | "wasm",
  options: SoakOptions = {},
): Promise<SoakResult> {
  await onBackend(backend);
  const split = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));
  const sam = randomSam(SOAK_SIZE);
  const config = validatePeftConfig({ method: options.method ?? "mopeft", ...SMALL_CONFIG });
  const model = PeftModel.create(sam, config, { numClasses: 3, seed: 7 });
  // One forward pass first: the encoder keeps one constant per attention shape (its relative-
  // position selection matrices), made on first use and kept for good; that is no leak.
  tf.dispose(model.forward(tf.zeros([1, 32, 32, 3]) as Tensor4D));
  const before = tf.memory();
  const memory: { numTensors: number; numBytes: number }[] = [];
  const losses: number[] = [];
  const result = await train(
    model,
    new SegmentationReader(split, { size: SOAK_SIZE.imageSize, seed: 1 }),
    {
      batchSize: options.batchSize ?? 1,
      microBatch: options.microBatch,
      embeddingCache: options.embeddingCache,
      maxSteps: STEPS,
      learningRate: 1e-3,
      onLog: ({ loss }) => {
        const { numTensors, numBytes } = tf.memory();
        memory.push({ numTensors, numBytes });
        losses.push(loss);
      },
    },
  );
  assertEquals(result.step, STEPS);
  assertEquals(memory.length, STEPS);
  // Flat from step 10 on (the first step creates Adam's moments), at step 200 and at every step
  // between.
  const settled = memory[9]!;
  assertEquals(memory[STEPS - 1], settled);
  memory.slice(9).forEach((seen, i) => assertEquals(seen, settled, `after step ${10 + i}`));
  // What train() made for itself (Adam's moments) is gone once it returns.
  const after = tf.memory();
  assertEquals([after.numTensors, after.numBytes], [before.numTensors, before.numBytes]);
  model.dispose();
  sam.dispose();
  return { settled, losses };
}
