/**
 * A run's head as an ONNX graph on `image_embeddings` `[1, C, h, w]`:
 * - semantic: `logits` `[1, classes, 4h, 4w]`, the class logits `predict` upsamples (no prompt,
 *   one mask token per class: lib/decoder/semantic_head.ts);
 * - detection: `boxes` `[Q, 4]` (xyxy in the model's S x S input pixels, x2/y2 exclusive: the
 *   tight box of the query's mask, logit > 0, upsampled bilinearly to S) and `scores` `[Q, classes]`
 *   (class probability, softmax with "no object" left out, times the mask's mean sigmoid over its
 *   pixels: lib/eval/detect_tile.ts), before thresholding and NMS; a query with an empty mask
 *   has box 0,0,0,0 and scores 0.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { CLASS_HEAD } from "../decoder/detection_head.ts";
import type { HeadConfig } from "../decoder/head.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { linear, reshape, slice, transpose } from "./graph_ops.ts";
import { maskDecoderNodes } from "./mask_decoder_graph.ts";
import { int, OnnxGraph } from "./onnx_graph.ts";

/** The head graph's input name (the encoder's output). */
export const HEAD_INPUT = "image_embeddings";

/**
 * Builds the head graph of a run.
 *
 * @param weights the run's weights (`PeftModel.weights()`: its decoder over SAM's).
 */
export function buildHeadGraph(
  weights: ModelWeights,
  head: HeadConfig,
  numClasses: number,
): OnnxGraph {
  const g = new OnnxGraph(`mopeft_${head.task}_head`);
  // The tfjs tensors made on the way (transposed weights, the positional grid) are freed here.
  tf.tidy(() => headNodes(g, weights, head, numClasses));
  return g;
}

function headNodes(
  g: OnnxGraph,
  weights: ModelWeights,
  head: HeadConfig,
  numClasses: number,
): void {
  const grid = weights.architecture.encoder.gridSize;
  const channels = weights.architecture.decoder.transformerDim;
  g.input(HEAD_INPUT, [1, channels, grid, grid]);
  const embeddings = transpose(g, HEAD_INPUT, [0, 2, 3, 1]);
  if (head.task === "semantic") {
    const { lowResMasks } = maskDecoderNodes(g, weights, embeddings, { predictIou: false });
    g.output(g.op("Identity", [lowResMasks], {}, "logits"), [1, numClasses, 4 * grid, 4 * grid]);
    return;
  }
  const queries = head.queries;
  const { lowResMasks, maskTokens } = maskDecoderNodes(g, weights, embeddings, {
    predictIou: false,
    sharedHypernetwork: true,
  });
  const hidden = g.op("Relu", [linear(g, maskTokens, weights, `${CLASS_HEAD}.0`)]);
  const classLogits = reshape(g, linear(g, hidden, weights, `${CLASS_HEAD}.1`), [
    queries,
    numClasses + 1,
  ]);
  const probabilities = slice(
    g,
    g.op("Softmax", [classLogits], { axis: int(-1) }),
    [0],
    [numClasses],
    [1],
  );
  const size = weights.architecture.encoder.imageSize;
  // Bilinear with half-pixel centres, as lib/train/upsample.ts (SAM's align_corners=False).
  const full = reshape(
    g,
    g.op("Resize", [lowResMasks, "", "", g.int64s([1, queries, size, size])], {
      mode: { string: "linear" },
      coordinate_transformation_mode: { string: "half_pixel" },
    }),
    [queries, size, size],
  );
  const on = g.op("Cast", [g.op("Greater", [full, g.scalar(0)])], { to: int(1) }); // [Q, S, S]
  const pixels = g.op("ReduceSum", [on, g.int64s([1, 2])], { keepdims: int(0) }); // [Q]
  const meanProbability = g.op("Div", [
    g.op("ReduceSum", [g.op("Mul", [g.op("Sigmoid", [full]), on]), g.int64s([1, 2])], {
      keepdims: int(0),
    }),
    g.op("Max", [pixels, g.scalar(1)]),
  ]);
  const scores = g.op(
    "Mul",
    [
      probabilities,
      g.op("Unsqueeze", [meanProbability, g.int64s([1])]),
    ],
    {},
    "scores",
  );
  // The tight box (lib/decoder/masks_to_boxes.ts): first and last rows and columns with a pixel.
  const anyRow = g.op("ReduceMax", [on], { axes: { ints: [2] }, keepdims: int(0) }); // [Q, S] by y
  const anyColumn = g.op("ReduceMax", [on], { axes: { ints: [1] }, keepdims: int(0) }); // by x
  const first = (v: string) => g.op("ArgMax", [v], { axis: int(1), keepdims: int(1) });
  const afterLast = (v: string) =>
    g.op("Add", [
      g.op("ArgMax", [v], { axis: int(1), keepdims: int(1), select_last_index: int(1) }),
      g.int64s([1]),
    ]);
  const corners = g.op("Concat", [
    first(anyColumn),
    first(anyRow),
    afterLast(anyColumn),
    afterLast(anyRow),
  ], { axis: int(1) }); // [Q, 4] int64
  const nonEmpty = g.op("Unsqueeze", [
    g.op("Cast", [g.op("Greater", [pixels, g.scalar(0)])], { to: int(1) }),
    g.int64s([1]),
  ]);
  g.output(
    g.op("Mul", [g.op("Cast", [corners], { to: int(1) }), nonEmpty], {}, "boxes"),
    [queries, 4],
  );
  g.output(scores, [queries, numClasses]);
}
