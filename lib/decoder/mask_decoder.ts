/**
 * SAM's mask decoder, run with no prompt: one low-resolution mask per mask token.
 *
 * @module
 */
import { type Tensor, type Tensor2D, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import { matMul } from "../nn/matmul.ts";
import { upConv2x2 } from "../nn/convolution.ts";
import { gelu } from "../nn/gelu.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { linear } from "../nn/linear.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { densePositionalEncoding, noMaskEmbedding } from "./prompt_encoder.ts";
import { twoWayTransformer } from "./two_way_transformer.ts";

const UPSCALING_EPS = 1e-6;

/** What the mask decoder returns. */
export type MaskPrediction = {
  /** `[B, numMaskTokens, 4h, 4w]` mask logits (256x256 for the released models). */
  lowResMasks: Tensor4D;
  /** `[B, numMaskTokens]` predicted IoU per mask (absent when not asked for). */
  iouPredictions?: Tensor2D;
  /** `[B, numMaskTokens, C]` the mask tokens' transformer outputs (when asked for). */
  maskTokenOutputs?: Tensor3D;
};

/** Options of {@link decodeMasks}. */
export interface DecodeMasksOptions {
  /** Run the IoU head; default true. */
  predictIou?: boolean;
  /**
   * Every mask token uses hypernetwork MLP 0 (the detection head's object queries share one)
   * instead of its own; default false.
   */
  sharedHypernetwork?: boolean;
  /** Also return the mask tokens' outputs (the detection head classifies them); default false. */
  tokenOutputs?: boolean;
  /**
   * Prompts (SAM's promptable path): sparse embeddings `[B, N, C]` appended to the output tokens
   * and a dense embedding `[B, h, w, C]` in place of `no_mask_embed`; default none.
   */
  prompts?: { sparse?: Tensor3D; dense?: Tensor4D };
}

function mlp(weights: ModelWeights, prefix: string, layers: number, x: Tensor): Tensor {
  let y = x;
  for (let layer = 0; layer < layers; layer++) {
    y = linear(y, weights.get(`${prefix}.${layer}.weight`), weights.get(`${prefix}.${layer}.bias`));
    if (layer < layers - 1) y = tf.relu(y);
  }
  return y;
}

/**
 * Decodes image embeddings `[B, h, w, C]` (channel-last) with the constant no-prompt inputs into
 * one mask per mask token (SAM's `predict_masks` with empty sparse prompts). The semantic head
 * (one mask token per class) skips the IoU head with `predictIou: false`.
 *
 * @example
 * ```ts ignore
 * const { lowResMasks } = decodeMasks(weights, embeddings); // [1, 4, 256, 256] for SAM
 * ```
 */
export function decodeMasks(
  weights: ModelWeights,
  embeddings: Tensor4D,
  options: DecodeMasksOptions = {},
): MaskPrediction {
  return tf.tidy(() => {
    const arch = weights.architecture.decoder;
    const [batch, height, width, channels] = embeddings.shape;
    const md = "mask_decoder";
    const outputTokens = tf.concat([
      weights.get(`${md}.iou_token.weight`),
      weights.get(`${md}.mask_tokens.weight`),
    ], 0);
    let tokens = tf.broadcastTo(outputTokens.expandDims(0), [
      batch,
      1 + arch.numMaskTokens,
      channels,
    ]) as Tensor3D;
    const sparse = options.prompts?.sparse;
    if (sparse && sparse.shape[1] > 0) tokens = tf.concat([tokens, sparse], 1);
    const source = tf.add(
      embeddings,
      options.prompts?.dense ?? noMaskEmbedding(weights, batch, height, width),
    );
    const positions = tf.broadcastTo(densePositionalEncoding(weights, height, width), [
      batch,
      height,
      width,
      channels,
    ]);
    const out = twoWayTransformer(
      weights,
      source.reshape([batch, height * width, channels]) as Tensor3D,
      positions.reshape([batch, height * width, channels]) as Tensor3D,
      tokens,
    );
    const iouToken = tf.slice(out.tokens, [0, 0, 0], [batch, 1, channels]).reshape([
      batch,
      channels,
    ]);
    const maskTokens = tf.slice(out.tokens, [0, 1, 0], [batch, arch.numMaskTokens, channels]);

    const grid = out.image.reshape([batch, height, width, channels]) as Tensor4D;
    let upscaled = upConv2x2(
      grid,
      weights.get(`${md}.output_upscaling.0.weight`),
      weights.get(`${md}.output_upscaling.0.bias`),
    );
    upscaled = gelu(
      layerNorm(
        upscaled,
        weights.get(`${md}.output_upscaling.1.weight`),
        weights.get(`${md}.output_upscaling.1.bias`),
        UPSCALING_EPS,
      ),
    ) as Tensor4D;
    upscaled = gelu(
      upConv2x2(
        upscaled,
        weights.get(`${md}.output_upscaling.3.weight`),
        weights.get(`${md}.output_upscaling.3.bias`),
      ),
    ) as Tensor4D;
    const [, upHeight, upWidth, upChannels] = upscaled.shape;

    let hyperIn: Tensor; // [B, tokens, C/8]
    if (options.sharedHypernetwork) {
      hyperIn = mlp(weights, `${md}.output_hypernetworks_mlps.0.layers`, 3, maskTokens);
    } else {
      const hyper: Tensor[] = [];
      for (let token = 0; token < arch.numMaskTokens; token++) {
        const tokenOut = tf.slice(maskTokens, [0, token, 0], [batch, 1, channels]).reshape([
          batch,
          channels,
        ]);
        hyper.push(mlp(weights, `${md}.output_hypernetworks_mlps.${token}.layers`, 3, tokenOut));
      }
      hyperIn = tf.stack(hyper, 1);
    }
    const pixels = upscaled.reshape([batch, upHeight * upWidth, upChannels]);
    const masks = matMul(hyperIn, pixels, false, true) // [B, tokens, 4h*4w]
      .reshape([batch, arch.numMaskTokens, upHeight, upWidth]) as Tensor4D;
    const tokenOutputs = options.tokenOutputs ? { maskTokenOutputs: maskTokens as Tensor3D } : {};
    if (options.predictIou === false) return { lowResMasks: masks, ...tokenOutputs };
    const iouPredictions = mlp(
      weights,
      `${md}.iou_prediction_head.layers`,
      arch.iouHeadDepth,
      iouToken,
    ) as Tensor2D;
    return { lowResMasks: masks, iouPredictions, ...tokenOutputs };
  });
}
