/**
 * How many tiles of a batch one pass can hold: an estimate of a training step's memory, fitted to
 * measurements, and the micro-batch it allows under a backend's ceiling (the 4 GiB wasm heap).
 *
 * The estimate is linear in the tiles: `fixed + tiles · perTile`. Per tile, what a step keeps
 * grows with the encoder's tokens times its width (every activation of SAM's encoder is
 * `[tokens, width]` or a fixed multiple of it; the attention is windowed or computed in query
 * blocks, so nothing grows with tokens squared), and, when the encoder trains, with its depth
 * (staged gradients keep each block's input). The constants come from the wasm heap that `bench`
 * measured after vit_b steps (README, Performance: 256 px batch 4 and 1024 px batch 1, the two
 * sides being 1/4 and 1 tile-at-1024 px):
 *
 * | vit_b               | 256 px, batch 4 | 1024 px, batch 1 | per 1024-px tile | fixed    |
 * | ------------------- | --------------- | ---------------- | ---------------- | -------- |
 * | mopeft (encoder)    | 1.6 GiB         | 2.8 GiB          | 1.6 GiB          | 1.2 GiB  |
 * | decoder only        | 770 MiB         | 1.2 GiB          | 0.57 GiB         | 0.63 GiB |
 *
 * One vit_b tile at 1024 px is `4 · 4096 · 768` bytes = 12.6 MB per `[tokens, width]` tensor, so
 * 1.6 GiB is 136 of them (12 kept block inputs, 124 for the rest of a block's tape, the decoder
 * and the loss) and 0.57 GiB is 49. The fixed part is what the model's tensors hold (vit_b: 0.35
 * GiB) times 3.4 when the encoder trains (gradients, Adam's moments, a block's scratch) or 1.8
 * when only the decoder does. The wasm heap never shrinks and fragments, so the fit is of the
 * heap, not of live tensors, and a margin of 10% is kept below the ceiling.
 *
 * @module
 */
import { type BackendMemoryLimit, backendMemoryLimit } from "../backend/backend_memory.ts";
import { tf } from "../backend/tf.ts";
import type { EncoderArchitecture } from "../encoder/architecture.ts";

/** What {@link estimateStepMemory} needs to know about the model and the step. */
export interface StepMemoryInput {
  /** Input side S in pixels. */
  imageSize: number;
  /** The encoder's patch side (16 for SAM). */
  patchSize: number;
  /** The encoder's token width (vit_b: 768). */
  embedDim: number;
  /** The encoder's blocks (vit_b: 12). */
  depth: number;
  /** True when some trainable variable lives in the encoder (the step tapes it). */
  encoderTrains: boolean;
  /** Bytes of the tensors alive before training starts (the model's weights, mostly). */
  modelBytes: number;
}

/** A step's memory as `fixedBytes + tiles · perTileBytes`. */
export interface StepMemoryEstimate {
  fixedBytes: number;
  perTileBytes: number;
}

/** `[tokens, width]` float32 tensors per tile, beyond the kept block inputs (see the module doc). */
const TAPE_TENSORS_PER_TILE = 124;
const DECODER_ONLY_TENSORS_PER_TILE = 49;
const FIXED_PER_MODEL_BYTE = { encoder: 3.4, decoderOnly: 1.8 };
/** Part of the ceiling a step may plan to use. */
const CEILING_SHARE = 0.9;

/**
 * The estimated memory of one training step (see the module doc for where the constants come
 * from).
 *
 * @example
 * ```ts
 * import { estimateStepMemory } from "./memory_budget.ts";
 * const vitB = { imageSize: 1024, patchSize: 16, embedDim: 768, depth: 12, modelBytes: 375e6 };
 * estimateStepMemory({ ...vitB, encoderTrains: true }).perTileBytes; // 1711276032 (1.6 GiB)
 * ```
 */
export function estimateStepMemory(input: StepMemoryInput): StepMemoryEstimate {
  const tokens = (input.imageSize / input.patchSize) ** 2;
  const tensorBytes = 4 * tokens * input.embedDim;
  return input.encoderTrains
    ? {
      fixedBytes: input.modelBytes * FIXED_PER_MODEL_BYTE.encoder,
      perTileBytes: tensorBytes * (input.depth + TAPE_TENSORS_PER_TILE),
    }
    : {
      fixedBytes: input.modelBytes * FIXED_PER_MODEL_BYTE.decoderOnly,
      perTileBytes: tensorBytes * DECODER_ONLY_TENSORS_PER_TILE,
    };
}

/**
 * The most tiles of a `batchSize` batch that one pass may take under `limitBytes` (at least 1,
 * at most `batchSize`): the whole batch when it fits.
 *
 * @example
 * ```ts
 * import { chooseMicroBatch } from "./memory_budget.ts";
 * const estimate = { fixedBytes: 1.2 * 2 ** 30, perTileBytes: 1.6 * 2 ** 30 };
 * chooseMicroBatch(4, estimate, 4 * 2 ** 30); // 1: (3.6 - 1.2) / 1.6 GiB
 * ```
 */
export function chooseMicroBatch(
  batchSize: number,
  estimate: StepMemoryEstimate,
  limitBytes: number,
): number {
  const room = (limitBytes * CEILING_SHARE - estimate.fixedBytes) / estimate.perTileBytes;
  return Math.max(1, Math.min(batchSize, Math.floor(room)));
}

/** What {@link planMicroBatch} chose and from what. */
export interface MicroBatchPlan {
  /** Tiles per pass (the whole batch when it fits, or when the ceiling is unknown). */
  microBatch: number;
  estimate: StepMemoryEstimate;
  /** The ceiling it was chosen under; null where the backend has none known (webgpu, cpu). */
  limit: BackendMemoryLimit | null;
}

/**
 * The micro-batch for a `batchSize` step of a model with `encoder` on the active backend: from
 * its memory ceiling ({@link backendMemoryLimit}) and {@link estimateStepMemory}, with the bytes
 * of the tensors alive now as the model's. Call it once the model is built.
 *
 * @example
 * ```ts ignore
 * const { microBatch } = planMicroBatch(weights.architecture.encoder, 4, model.frozenSplit() === undefined);
 * ```
 */
export function planMicroBatch(
  encoder: Pick<EncoderArchitecture, "imageSize" | "patchSize" | "embedDim" | "depth">,
  batchSize: number,
  encoderTrains: boolean,
): MicroBatchPlan {
  const estimate = estimateStepMemory({
    imageSize: encoder.imageSize,
    patchSize: encoder.patchSize,
    embedDim: encoder.embedDim,
    depth: encoder.depth,
    encoderTrains,
    modelBytes: tf.memory().numBytes,
  });
  const limit = backendMemoryLimit();
  const microBatch = limit ? chooseMicroBatch(batchSize, estimate, limit.bytes) : batchSize;
  return { microBatch, estimate, limit };
}
