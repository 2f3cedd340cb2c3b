/**
 * Deterministic SAM checkpoints with random weights in the official layout: the small
 * SAM-shaped models of the tests and the demo, and a vit_b stand-in for benchmarks.
 *
 * @module
 */
import { mulberry32 } from "../nn/prng.ts";
import { expectedShapes, type SamArchitecture } from "./architecture.ts";

/** The few numbers that fix a SAM-shaped model. */
export interface SamSize {
  /** Input side S in pixels (a multiple of 16). */
  imageSize: number;
  /** Encoder token width D. */
  embedDim: number;
  /** Encoder blocks. */
  depth: number;
  /** Encoder attention heads (D must divide by it). */
  numHeads: number;
  /** Window side of the windowed blocks. */
  windowSize: number;
  /** Indexes of the global-attention blocks. */
  globalBlocks: number[];
  /** Image-embedding channels = decoder width (256 in SAM). */
  outChans: number;
  /** Hidden width of the decoder MLPs (2048 in SAM). */
  decoderMlpDim: number;
  /** Hidden width of the IoU head (256 in SAM). */
  iouHeadHiddenDim: number;
}

/** SAM ViT-B's sizes. */
export const VIT_B_SIZE: SamSize = {
  imageSize: 1024,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  windowSize: 14,
  globalBlocks: [2, 5, 8, 11],
  outChans: 256,
  decoderMlpDim: 2048,
  iouHeadHiddenDim: 256,
};

/** A small SAM-shaped model for tests and the demo (runs in well under a second on a CPU). */
export const TINY_SIZE: SamSize = {
  imageSize: 128,
  embedDim: 32,
  depth: 4,
  numHeads: 2,
  windowSize: 4,
  globalBlocks: [1, 3],
  outChans: 32,
  decoderMlpDim: 64,
  iouHeadHiddenDim: 32,
};

/** The architecture a {@link SamSize} describes. */
export function architectureOf(size: SamSize): SamArchitecture {
  const gridSize = size.imageSize / 16;
  return {
    encoder: {
      imageSize: size.imageSize,
      patchSize: 16,
      gridSize,
      embedDim: size.embedDim,
      depth: size.depth,
      numHeads: size.numHeads,
      headDim: size.embedDim / size.numHeads,
      mlpDim: 4 * size.embedDim,
      blockWindowSizes: Array.from(
        { length: size.depth },
        (_, block) => size.globalBlocks.includes(block) ? 0 : size.windowSize,
      ),
      outChans: size.outChans,
    },
    decoder: {
      transformerDim: size.outChans,
      depth: 2,
      numHeads: 8,
      mlpDim: size.decoderMlpDim,
      attentionDownsampleRate: 2,
      numMaskTokens: 4,
      iouHeadHiddenDim: size.iouHeadHiddenDim,
      iouHeadDepth: 3,
    },
    prompt: { embedDim: size.outChans, maskInChans: 16 },
  };
}

/** One tensor of a generated checkpoint; `data()` draws its values when called. */
export interface GeneratedTensor {
  name: string;
  shape: number[];
  data: () => Float32Array;
}

/**
 * Random weights for every tensor of `architecture`, in official order. Each tensor draws from its
 * own stream seeded by `seed` and its position, so the values do not depend on which tensors were
 * drawn before. Weights are normal with std 1/sqrt(fan-in); norm scales are near 1; relative and
 * absolute position tables are non-zero.
 */
export function randomSamTensors(architecture: SamArchitecture, seed: number): GeneratedTensor[] {
  return [...expectedShapes(architecture)].map(([name, shape], index) => ({
    name,
    shape,
    data: () => drawTensor(name, shape, seed * 7919 + index),
  }));
}

function drawTensor(name: string, shape: number[], seed: number): Float32Array {
  const random = mulberry32(seed);
  const normal = () => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const count = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  const isNorm = /norm|neck\.[13]\.|output_upscaling\.1\.|mask_downscaling\.[14]\./.test(name);
  let scale: number;
  let offset = 0;
  if (isNorm && name.endsWith(".weight")) {
    scale = 0.1;
    offset = 1;
  } else if (name.endsWith(".bias")) {
    scale = 0.02;
  } else if (name.endsWith("positional_encoding_gaussian_matrix")) {
    scale = 1;
  } else if (/rel_pos|pos_embed|token|embed\.weight|point_embeddings/.test(name)) {
    scale = 0.1;
  } else {
    const fanIn = shape.length > 1 ? count / shape[0]! : count;
    scale = 1 / Math.sqrt(fanIn);
  }
  for (let i = 0; i < count; i++) values[i] = offset + scale * normal();
  return values;
}
