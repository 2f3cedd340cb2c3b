/**
 * A small TrainableModel for the training and evaluation tests: a frozen tiny SAM (random weights)
 * with a trainable semantic decoder.
 *
 * @module
 */
import { type Tensor4D, tf, type Variable } from "../../lib/backend/tf.ts";
import { decodeMasks } from "../../lib/decoder/mask_decoder.ts";
import { initialSemanticDecoder, semanticArchitecture } from "../../lib/decoder/semantic_head.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { LayeredWeights } from "../../lib/encoder/layered_weights.ts";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { loadSamWeights } from "../../lib/encoder/weights.ts";
import type { TrainableModel } from "../../lib/train/trainable.ts";

/** A decoder-only model plus a way to free it. */
export interface TinyModel extends TrainableModel {
  dispose(): void;
}

/** Tiny SAM (S = 128) with `numClasses` mask tokens; the same `seed` gives the same weights. */
export async function tinyDecoderModel(numClasses: number, seed = 0): Promise<TinyModel> {
  const architecture = architectureOf(TINY_SIZE);
  const generated = randomSamTensors(architecture, seed);
  const shapes = new Map(generated.map((t) => [t.name, t.shape] as const));
  const base = await loadSamWeights({
    shapes: () => shapes,
    read: (name) => Promise.resolve(generated.find((t) => t.name === name)!.data()),
  }, "tiny");
  const initial = initialSemanticDecoder(base, numClasses);
  const variables = new Map<string, Variable>();
  for (const [name, tensor] of initial) {
    variables.set(name, tf.variable(tensor, true));
    tensor.dispose();
  }
  const weights = new LayeredWeights(
    base,
    variables,
    semanticArchitecture(base.architecture, numClasses),
  );
  const logits = (embeddings: Tensor4D) =>
    decodeMasks(weights, embeddings, { predictIou: false }).lowResMasks;
  return {
    trainableVariables: () => variables,
    // The encoder is frozen: its output is a constant for the gradient.
    forward: (images) => tf.tidy(() => logits(encodeImage(base, images))),
    frozenSplit: () => ({
      features: (images) => encodeImage(base, images),
      logits: (embeddings) => logits(embeddings as Tensor4D),
    }),
    dispose: () => {
      base.dispose();
      for (const variable of variables.values()) variable.dispose();
    },
  };
}
