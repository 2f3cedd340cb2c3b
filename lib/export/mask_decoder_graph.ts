/**
 * SAM's mask decoder as ONNX nodes: lib/decoder/mask_decoder.ts and two_way_transformer.ts
 * written op for op (channel-last image tokens, PyTorch-layout weights), for the heads
 * (`head_graph.ts`) and the promptable decoder (`decoder_graph.ts`).
 *
 * @module
 */
import { densePositionalEncoding } from "../decoder/prompt_encoder.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { gelu, layerNorm, linear, reshape, slice, tensorConstant, transpose } from "./graph_ops.ts";
import { int, ints, type OnnxGraph } from "./onnx_graph.ts";

const TRANSFORMER_EPS = 1e-5;
const UPSCALING_EPS = 1e-6;

/** What {@link maskDecoderNodes} returns: value names. */
export interface MaskDecoderValues {
  /** `[1, K, 4h, 4w]`. */
  lowResMasks: string;
  /** `[1, K]`, when asked for. */
  iouPredictions?: string;
  /** `[1, K, C]`. */
  maskTokens: string;
}

/** Options of {@link maskDecoderNodes}. */
export interface MaskDecoderGraphOptions {
  predictIou: boolean;
  sharedHypernetwork?: boolean;
  /** Sparse prompt embeddings `[1, N, C]` (N may be dynamic). */
  sparse?: string;
  /** Dense prompt embedding `[1, h, w, C]`; default `no_mask_embed`. */
  dense?: string;
}

/** Attention with heads over `[1, tokens, width]` values (dynamic token counts allowed). */
function attention(
  g: OnnxGraph,
  weights: ModelWeights,
  prefix: string,
  numHeads: number,
  queries: string,
  keys: string,
  values: string,
): string {
  const internal = weights.get(`${prefix}.q_proj.weight`).shape[0]!;
  const headDim = internal / numHeads;
  const heads = (x: string) => transpose(g, reshape(g, x, [0, 0, numHeads, headDim]), [0, 2, 1, 3]);
  const q = heads(linear(g, queries, weights, `${prefix}.q_proj`));
  const k = heads(linear(g, keys, weights, `${prefix}.k_proj`));
  const v = heads(linear(g, values, weights, `${prefix}.v_proj`));
  const logits = g.op("Div", [
    g.op("MatMul", [q, transpose(g, k, [0, 1, 3, 2])]),
    g.scalar(Math.sqrt(headDim)),
  ]);
  const out = g.op("MatMul", [g.op("Softmax", [logits], { axis: int(-1) }), v]);
  const merged = reshape(g, transpose(g, out, [0, 2, 1, 3]), [0, 0, internal]);
  return linear(g, merged, weights, `${prefix}.out_proj`);
}

function norm(g: OnnxGraph, weights: ModelWeights, name: string, x: string): string {
  return layerNorm(g, x, weights, name, TRANSFORMER_EPS);
}

function mlp(g: OnnxGraph, weights: ModelWeights, prefix: string, layers: number, x: string) {
  let y = x;
  for (let layer = 0; layer < layers; layer++) {
    y = linear(g, y, weights, `${prefix}.${layer}`);
    if (layer < layers - 1) y = g.op("Relu", [y]);
  }
  return y;
}

/** The two-way transformer (lib/decoder/two_way_transformer.ts). */
function twoWayTransformer(
  g: OnnxGraph,
  weights: ModelWeights,
  image: string,
  positions: string,
  tokens: string,
): { tokens: string; image: string } {
  const arch = weights.architecture.decoder;
  const t = "mask_decoder.transformer";
  const heads = arch.numHeads;
  let queries = tokens;
  let keys = image;
  for (let layer = 0; layer < arch.depth; layer++) {
    const l = `${t}.layers.${layer}`;
    if (layer === 0) {
      queries = attention(g, weights, `${l}.self_attn`, heads, queries, queries, queries);
    } else {
      const q = g.op("Add", [queries, tokens]);
      queries = g.op("Add", [
        queries,
        attention(g, weights, `${l}.self_attn`, heads, q, q, queries),
      ]);
    }
    queries = norm(g, weights, `${l}.norm1`, queries);
    let q = g.op("Add", [queries, tokens]);
    let k = g.op("Add", [keys, positions]);
    queries = g.op("Add", [
      queries,
      attention(g, weights, `${l}.cross_attn_token_to_image`, heads, q, k, keys),
    ]);
    queries = norm(g, weights, `${l}.norm2`, queries);
    const hidden = g.op("Relu", [linear(g, queries, weights, `${l}.mlp.lin1`)]);
    queries = g.op("Add", [queries, linear(g, hidden, weights, `${l}.mlp.lin2`)]);
    queries = norm(g, weights, `${l}.norm3`, queries);
    q = g.op("Add", [queries, tokens]);
    k = g.op("Add", [keys, positions]);
    keys = g.op("Add", [
      keys,
      attention(g, weights, `${l}.cross_attn_image_to_token`, heads, k, q, queries),
    ]);
    keys = norm(g, weights, `${l}.norm4`, keys);
  }
  const q = g.op("Add", [queries, tokens]);
  const k = g.op("Add", [keys, positions]);
  queries = g.op("Add", [
    queries,
    attention(g, weights, `${t}.final_attn_token_to_image`, heads, q, k, keys),
  ]);
  queries = norm(g, weights, `${t}.norm_final_attn`, queries);
  return { tokens: queries, image: keys };
}

/** A 2x2 stride-2 transposed convolution on channel-last `[1, h, w, C]` (lib/nn upConv2x2). */
function upConv(g: OnnxGraph, weights: ModelWeights, name: string, x: string): string {
  const y = g.op("ConvTranspose", [
    transpose(g, x, [0, 3, 1, 2]),
    tensorConstant(g, `${name}.weight`, weights.get(`${name}.weight`)),
    tensorConstant(g, `${name}.bias`, weights.get(`${name}.bias`)),
  ], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
  return transpose(g, y, [0, 2, 3, 1]);
}

/**
 * The mask decoder on channel-last image embeddings `[1, h, w, C]` (lib/decoder/mask_decoder.ts
 * `decodeMasks`, batch 1).
 */
export function maskDecoderNodes(
  g: OnnxGraph,
  weights: ModelWeights,
  embeddings: string,
  options: MaskDecoderGraphOptions,
): MaskDecoderValues {
  const arch = weights.architecture.decoder;
  const md = "mask_decoder";
  const grid = weights.architecture.encoder.gridSize;
  const channels = arch.transformerDim;
  const outputTokens = g.op("Concat", [
    tensorConstant(g, `${md}.iou_token.weight`, weights.get(`${md}.iou_token.weight`)),
    tensorConstant(g, `${md}.mask_tokens.weight`, weights.get(`${md}.mask_tokens.weight`)),
  ], { axis: int(0) });
  let tokens = g.op("Unsqueeze", [outputTokens, g.int64s([0])]); // [1, 1 + K, C]
  if (options.sparse) tokens = g.op("Concat", [tokens, options.sparse], { axis: int(1) });
  const dense = options.dense ??
    g.op("Reshape", [
      tensorConstant(g, "no_mask_embed", weights.get("prompt_encoder.no_mask_embed.weight")),
      g.int64s([1, 1, 1, channels]),
    ]);
  const source = g.op("Add", [embeddings, dense]);
  const positions = tensorConstant(
    g,
    "image_pe",
    densePositionalEncoding(weights, grid, grid).reshape([1, grid * grid, channels]),
  );
  const out = twoWayTransformer(
    g,
    weights,
    reshape(g, source, [1, grid * grid, channels]),
    positions,
    tokens,
  );
  const iouToken = slice(g, out.tokens, [0], [1], [1]); // [1, 1, C]
  const maskTokens = slice(g, out.tokens, [1], [1 + arch.numMaskTokens], [1]); // [1, K, C]

  const upGrid = reshape(g, out.image, [1, grid, grid, channels]);
  let upscaled = upConv(g, weights, `${md}.output_upscaling.0`, upGrid);
  upscaled = gelu(g, layerNorm(g, upscaled, weights, `${md}.output_upscaling.1`, UPSCALING_EPS));
  upscaled = gelu(g, upConv(g, weights, `${md}.output_upscaling.3`, upscaled));
  const side = 4 * grid;
  const upChannels = channels / 8;

  let hyperIn: string; // [1, K, C/8]
  if (options.sharedHypernetwork) {
    hyperIn = mlp(g, weights, `${md}.output_hypernetworks_mlps.0.layers`, 3, maskTokens);
  } else {
    const hyper: string[] = [];
    for (let token = 0; token < arch.numMaskTokens; token++) {
      const tokenOut = slice(g, maskTokens, [token], [token + 1], [1]); // [1, 1, C]
      hyper.push(mlp(g, weights, `${md}.output_hypernetworks_mlps.${token}.layers`, 3, tokenOut));
    }
    hyperIn = hyper.length === 1 ? hyper[0]! : g.op("Concat", hyper, { axis: int(1) });
  }
  const pixels = reshape(g, upscaled, [1, side * side, upChannels]);
  const masks = reshape(
    g,
    g.op("MatMul", [hyperIn, transpose(g, pixels, [0, 2, 1])]),
    [1, arch.numMaskTokens, side, side],
  );
  if (!options.predictIou) return { lowResMasks: masks, maskTokens };
  const iou = mlp(
    g,
    weights,
    `${md}.iou_prediction_head.layers`,
    arch.iouHeadDepth,
    reshape(g, iouToken, [1, channels]),
  );
  return { lowResMasks: masks, iouPredictions: iou, maskTokens };
}
