/**
 * SAM's promptable mask decoder as ONNX, in the signature of the official export
 * (segment-anything `scripts/export_onnx_model.py`, `SamOnnxModel`, multimask outputs), so that
 * SAM ONNX tools use a run's `encoder.onnx` with it unchanged:
 *
 * inputs `image_embeddings` `[1, C, h, w]`, `point_coords` `[1, N, 2]` (x, y in the S-px input
 * frame), `point_labels` `[1, N]` (1, 0, 2, 3, or -1 padding), `mask_input` `[1, 1, 4h, 4w]`,
 * `has_mask_input` `[1]`, `orig_im_size` `[2]` (h, w); outputs `masks` `[1, K, H, W]` (logits at
 * the original size), `iou_predictions` `[1, K]`, `low_res_masks` `[1, K, 4h, 4w]`.
 *
 * Weights: the run's where the run changed what the promptable decoder uses (the two-way
 * transformer, the output upscaling, the IoU token), SAM's for the rest (its K mask tokens, their
 * hypernetworks and the IoU head, which a run's class or query tokens replace rather than change);
 * see {@link promptDecoderWeights}.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { expectedShapes } from "../encoder/architecture.ts";
import { LayeredWeights } from "../encoder/layered_weights.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { gelu, layerNorm, linearOf, tensorConstant, transpose } from "./graph_ops.ts";
import { maskDecoderNodes } from "./mask_decoder_graph.ts";
import { int, ints, OnnxGraph } from "./onnx_graph.ts";

const MASK_EPS = 1e-6;

/** The promptable decoder's inputs and outputs, as the official export names them. */
export const DECODER_INPUTS = [
  "image_embeddings",
  "point_coords",
  "point_labels",
  "mask_input",
  "has_mask_input",
  "orig_im_size",
] as const;
export const DECODER_OUTPUTS = ["masks", "iou_predictions", "low_res_masks"] as const;

/** Tells whether the promptable decoder takes tensor `name` from the run (else from SAM). */
export function promptDecoderTakesFromRun(name: string): boolean {
  return name.startsWith("mask_decoder.transformer.") ||
    name.startsWith("mask_decoder.output_upscaling.") || name === "mask_decoder.iou_token.weight";
}

/**
 * SAM's weights with the run's two-way transformer, output upscaling and IoU token over them:
 * what the promptable decoder (tfjs or ONNX) runs with.
 *
 * @param base the SAM checkpoint's weights.
 * @param run the run's weights (`PeftModel.weights()`).
 */
export function promptDecoderWeights(base: ModelWeights, run: ModelWeights): ModelWeights {
  const overrides = new Map<string, Tensor>();
  for (const name of expectedShapes(base.architecture).keys()) {
    if (promptDecoderTakesFromRun(name)) overrides.set(name, run.get(name));
  }
  return new LayeredWeights(base, overrides, base.architecture);
}

/**
 * Builds the promptable decoder's graph on `weights` (see {@link promptDecoderWeights}).
 *
 * @example
 * ```ts ignore
 * const graph = buildDecoderGraph(promptDecoderWeights(sam, model.weights()));
 * ```
 */
export function buildDecoderGraph(weights: ModelWeights): OnnxGraph {
  const g = new OnnxGraph("mopeft_prompt_decoder");
  // The tfjs tensors made on the way (reshaped weights, the positional grid) are freed here.
  tf.tidy(() => decoderNodes(g, weights));
  return g;
}

function decoderNodes(g: OnnxGraph, weights: ModelWeights): void {
  const arch = weights.architecture;
  const grid = arch.encoder.gridSize;
  const size = arch.encoder.imageSize;
  const channels = arch.decoder.transformerDim;
  const masks = arch.decoder.numMaskTokens;
  const [embeddingsIn, coordsIn, labelsIn, maskIn, hasMaskIn, sizeIn] = DECODER_INPUTS;
  g.input(embeddingsIn, [1, channels, grid, grid]);
  g.input(coordsIn, [1, "num_points", 2]);
  g.input(labelsIn, [1, "num_points"]);
  g.input(maskIn, [1, 1, 4 * grid, 4 * grid]);
  g.input(hasMaskIn, [1]);
  g.input(sizeIn, [2]);

  // Points (lib/decoder/prompt_encoder.ts pointEmbeddings): pixel centres over S, Fourier features.
  const unit = g.op("Div", [g.op("Add", [coordsIn, g.scalar(0.5)]), g.scalar(size)]);
  const projected = g.op("Mul", [
    g.op("MatMul", [
      g.op("Sub", [g.op("Mul", [unit, g.scalar(2)]), g.scalar(1)]),
      tensorConstant(
        g,
        "pe_gaussian",
        weights.get("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
      ),
    ]),
    g.scalar(2 * Math.PI),
  ]);
  const position = g.op("Concat", [g.op("Sin", [projected]), g.op("Cos", [projected])], {
    axis: int(-1),
  });
  const label = g.op("Unsqueeze", [labelsIn, g.int64s([-1])]); // [1, N, 1]
  const is = (value: number) =>
    g.op("Cast", [g.op("Equal", [label, g.scalar(value)])], { to: int(1) });
  let sparse = g.op("Add", [
    g.op("Mul", [
      position,
      g.op("Cast", [g.op("Not", [g.op("Equal", [label, g.scalar(-1)])])], {
        to: int(1),
      }),
    ]),
    g.op("Mul", [
      tensorConstant(g, "not_a_point", weights.get("prompt_encoder.not_a_point_embed.weight")),
      is(-1),
    ]),
  ]);
  for (let i = 0; i < 4; i++) {
    const name = `prompt_encoder.point_embeddings.${i}.weight`;
    sparse = g.op("Add", [
      sparse,
      g.op("Mul", [tensorConstant(g, name, weights.get(name)), is(i)]),
    ]);
  }

  // The mask prompt (maskPromptEmbedding), or no_mask_embed when has_mask_input is 0.
  const p = "prompt_encoder.mask_downscaling";
  const stage = (x: string, conv: number, norm: number) => {
    const y = g.op("Conv", [
      x,
      tensorConstant(g, `${p}.${conv}.weight`, weights.get(`${p}.${conv}.weight`)),
      tensorConstant(g, `${p}.${conv}.bias`, weights.get(`${p}.${conv}.bias`)),
    ], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
    return gelu(g, layerNorm(g, transpose(g, y, [0, 2, 3, 1]), weights, `${p}.${norm}`, MASK_EPS));
  };
  const hidden = stage(transpose(g, stage(maskIn, 0, 1), [0, 3, 1, 2]), 3, 4); // [1, h, w, m]
  const maskEmbedding = linearOf(
    g,
    hidden,
    weights.get(`${p}.6.weight`).reshape([channels, -1]),
    weights.get(`${p}.6.bias`),
    `${p}.6`,
  );
  const noMask = g.op("Reshape", [
    tensorConstant(g, "no_mask_embed", weights.get("prompt_encoder.no_mask_embed.weight")),
    g.int64s([1, 1, 1, channels]),
  ]);
  const dense = g.op("Add", [
    g.op("Mul", [maskEmbedding, hasMaskIn]),
    g.op("Mul", [noMask, g.op("Sub", [g.scalar(1), hasMaskIn])]),
  ]);

  const decoded = maskDecoderNodes(g, weights, transpose(g, embeddingsIn, [0, 2, 3, 1]), {
    predictIou: true,
    sparse,
    dense,
  });
  // SamOnnxModel.mask_postprocessing: bilinear to S, crop to floor(scale * size + 0.5), bilinear
  // to orig_im_size (align_corners=False: half-pixel centres).
  const resize = (x: string, sizes: string) =>
    g.op("Resize", [x, "", "", sizes], {
      mode: { string: "linear" },
      coordinate_transformation_mode: { string: "half_pixel" },
    });
  const upscaled = resize(decoded.lowResMasks, g.int64s([1, masks, size, size]));
  const scale = g.op("Div", [
    g.scalar(size),
    g.op("ReduceMax", [sizeIn], { axes: ints([0]), keepdims: int(1) }),
  ]);
  const prepadded = g.op("Cast", [
    g.op("Floor", [g.op("Add", [g.op("Mul", [sizeIn, scale]), g.scalar(0.5)])]),
  ], { to: int(7) });
  const cropped = g.op("Slice", [upscaled, g.int64s([0, 0]), prepadded, g.int64s([2, 3])]);
  const original = g.op("Cast", [sizeIn], { to: int(7) });
  const target = g.op("Concat", [g.int64s([1, masks]), original], { axis: int(0) });
  // Outputs in the official export's order (tools unpack them by position).
  g.output(g.op("Identity", [resize(cropped, target)], {}, "masks"), [1, masks, "height", "width"]);
  g.output(g.op("Identity", [decoded.iouPredictions!], {}, "iou_predictions"), [1, masks]);
  g.output(g.op("Identity", [decoded.lowResMasks], {}, "low_res_masks"), [
    1,
    masks,
    4 * grid,
    4 * grid,
  ]);
}
