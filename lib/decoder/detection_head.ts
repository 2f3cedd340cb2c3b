/**
 * Turning SAM's mask decoder into an object detector (the thesis's appendix A, after Conv-LoRA and
 * RSPrompter): Q object queries as extra mask tokens, one hypernetwork MLP shared by all of them,
 * and a class MLP on each query's output token predicting C classes plus "no object". No prompt
 * enters: the queries are the decoder's only output tokens besides SAM's IoU token.
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import { expectedShapes, type SamArchitecture } from "../encoder/architecture.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { linear } from "../nn/linear.ts";
import { normalValues, tensorSeed, uniformValues } from "../nn/init.ts";
import { decodeMasks } from "./mask_decoder.ts";
import { semanticArchitecture, semanticDecoderNames } from "./semantic_head.ts";

/** Object queries when none are asked for (RSPrompter and Conv-LoRA use 100). */
export const DEFAULT_QUERIES = 100;

/** The name prefix of the class MLP's two layers (`.0` and `.1`, PyTorch Linear layout). */
export const CLASS_HEAD = "mask_decoder.class_head.layers";

/**
 * Standard deviation of the noise added to the pretrained mask tokens, relative to their own root
 * mean square: enough to make the queries distinct (so that matching can tell them apart), small
 * enough to keep SAM's mask knowledge.
 */
export const QUERY_NOISE = 0.1;

/** What the detection head returns for a batch. */
export type DetectionOutput = {
  /** `[B, Q, 4h, 4w]` mask logits of each query (S/4 for SAM). */
  masks: Tensor4D;
  /** `[B, Q, C + 1]` class logits of each query; the last column is "no object". */
  classLogits: Tensor3D;
};

/**
 * The architecture of SAM with its decoder widened to `queries` mask tokens.
 *
 * @example
 * ```ts
 * import { architectureOf, TINY_SIZE } from "../encoder/random_checkpoint.ts";
 * detectionArchitecture(architectureOf(TINY_SIZE), 100).decoder.numMaskTokens; // 100
 * ```
 */
export function detectionArchitecture(base: SamArchitecture, queries: number): SamArchitecture {
  return semanticArchitecture(base, queries);
}

/**
 * Names and shapes of the tensors the detection head trains, in a stable order: the mask
 * decoder's (transformer, upscaling, IoU token, the `queries` mask tokens, hypernetwork MLP 0 that
 * every query shares) and the class MLP (`D -> D -> numClasses + 1`, D the decoder width: 256 for
 * SAM).
 *
 * @example
 * ```ts
 * import { architectureOf, TINY_SIZE } from "../encoder/random_checkpoint.ts";
 * const shapes = detectionDecoderShapes(architectureOf(TINY_SIZE), 3, 10);
 * shapes.get("mask_decoder.mask_tokens.weight"); // [10, 32]
 * shapes.get("mask_decoder.class_head.layers.1.weight"); // [4, 32]
 * ```
 */
export function detectionDecoderShapes(
  base: SamArchitecture,
  numClasses: number,
  queries: number,
): Map<string, number[]> {
  checkHead(numClasses, queries);
  const widened = detectionArchitecture(base, queries);
  const shapes = expectedShapes(widened);
  const result = new Map<string, number[]>();
  // One mask token's list of names has exactly one hypernetwork: the shared one.
  for (const name of semanticDecoderNames(detectionArchitecture(base, 1))) {
    result.set(name, shapes.get(name)!);
  }
  const width = base.decoder.transformerDim;
  result.set(`${CLASS_HEAD}.0.weight`, [width, width]);
  result.set(`${CLASS_HEAD}.0.bias`, [width]);
  result.set(`${CLASS_HEAD}.1.weight`, [numClasses + 1, width]);
  result.set(`${CLASS_HEAD}.1.bias`, [numClasses + 1]);
  return result;
}

/**
 * Initial detection-head tensors from SAM's pretrained decoder: query q starts from pretrained
 * mask token `q mod K` plus seeded normal noise ({@link QUERY_NOISE} times the tokens' RMS), the
 * shared hypernetwork from pretrained MLP 0, the class MLP as PyTorch initialises a Linear
 * (uniform in ±1/√fan_in, seeded by the tensor's name), the rest copied.
 *
 * @example
 * ```ts ignore
 * const tensors = initialDetectionDecoder(sam, 3, 100, 0);
 * ```
 */
export function initialDetectionDecoder(
  weights: ModelWeights,
  numClasses: number,
  queries: number,
  seed: number,
): Map<string, Tensor> {
  const pretrainedTokens = weights.architecture.decoder.numMaskTokens;
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of detectionDecoderShapes(weights.architecture, numClasses, queries)) {
    if (name === "mask_decoder.mask_tokens.weight") {
      tensors.set(
        name,
        tf.tidy(() => {
          const pretrained = weights.get(name);
          // The scale stays on the backend: webgpu cannot read a value back synchronously.
          const rms = tf.sqrt(tf.mean(tf.square(pretrained)));
          const rows = Array.from({ length: queries }, (_, q) => q % pretrainedTokens);
          const noise = normalValues(queries * shape[1]!, 1, tensorSeed(seed, name));
          return tf.add(
            tf.gather(pretrained, rows),
            tf.mul(tf.tensor2d(noise, [queries, shape[1]!]), tf.mul(rms, QUERY_NOISE)),
          );
        }),
      );
    } else if (name.startsWith(`${CLASS_HEAD}.`)) {
      const fanIn = name.endsWith(".bias") ? shape[0]! : shape[1]!;
      const values = uniformValues(
        shape.reduce((a, b) => a * b, 1),
        1 / Math.sqrt(fanIn),
        tensorSeed(seed, name),
      );
      tensors.set(name, tf.tensor(values, shape, "float32"));
    } else {
      tensors.set(name, tf.clone(weights.get(name)));
    }
  }
  return tensors;
}

/**
 * Runs the detection head on image embeddings `[B, h, w, C]` (channel-last): every query's mask
 * logits and class logits. `weights` must hold the head's tensors over SAM's
 * ({@link detectionArchitecture} as its architecture).
 *
 * @example
 * ```ts ignore
 * const { masks, classLogits } = decodeDetections(weights, embeddings); // [B, Q, 256, 256], [B, Q, C + 1]
 * ```
 */
export function decodeDetections(weights: ModelWeights, embeddings: Tensor4D): DetectionOutput {
  return tf.tidy(() => {
    const { lowResMasks, maskTokenOutputs } = decodeMasks(weights, embeddings, {
      predictIou: false,
      sharedHypernetwork: true,
      tokenOutputs: true,
    });
    const hidden = tf.relu(
      linear(
        maskTokenOutputs!,
        weights.get(`${CLASS_HEAD}.0.weight`),
        weights.get(`${CLASS_HEAD}.0.bias`),
      ),
    );
    const classLogits = linear(
      hidden,
      weights.get(`${CLASS_HEAD}.1.weight`),
      weights.get(`${CLASS_HEAD}.1.bias`),
    ) as Tensor3D;
    return { masks: lowResMasks, classLogits };
  });
}

function checkHead(numClasses: number, queries: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`A detection head needs at least one class, got ${numClasses}`);
  }
  if (!Number.isInteger(queries) || queries < 1) {
    throw new RangeError(`Object queries must be a positive integer, got ${queries}`);
  }
}
