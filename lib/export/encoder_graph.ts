/**
 * The image encoder of a run as an ONNX graph: `image` `[1, 3, S, S]` (RGB 0..255, resized and
 * padded as `predict` does) → `image_embeddings` `[1, outChans, S/16, S/16]`, normalisation
 * inside.
 *
 * It walks the model the library builds: SAM's encoder weights as the run layers them
 * (`PeftModel.weights()`) and the run's PEFT tensors in inference form (`exportTensors()`:
 * flat prefixes, MoSA merged into one adapter), and writes, block by block, the operations of
 * lib/encoder/block.ts and attention.ts with each method's terms where lib/peft puts them:
 * ungated LoRA folded into the fused qkv weight (`mergeLora`), gated LoRA as its two rank-r
 * products scaled by the gate, prefix and VPT key/value tokens prepended to the keys and values
 * (scaled by their gate), the adapter after the MLP, and each gate as
 * `mean(sigmoid(W x + b))` over the block's input tokens, computed in the graph.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { PIXEL_MEAN, PIXEL_STD } from "../encoder/preprocess.ts";
import { relativeEmbeddings } from "../encoder/relative_position.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import type { PeftConfig } from "../peft/config.ts";
import { gateName, moduleBlocks, moduleName } from "../peft/layout.ts";
import { loraScale, mergeLora } from "../peft/lora.ts";
import type { TensorValues } from "../peft/peft_model.ts";
import { methodSpec, type ModuleKind } from "../peft/registry.ts";
import {
  gelu,
  layerNorm,
  linear,
  linearOf,
  reshape,
  slice,
  split,
  tensorConstant,
  transpose,
} from "./graph_ops.ts";
import { int, ints, OnnxGraph } from "./onnx_graph.ts";

const ENCODER_EPS = 1e-6;

/** The encoder graph's input and output names. */
export const ENCODER_INPUT = "image";
export const ENCODER_OUTPUT = "image_embeddings";

/** Options of {@link buildEncoderGraph}. */
export interface EncoderGraphOptions {
  /**
   * Leaves one module of one block out of the graph. Only for tests, which show that the parity
   * comparison notices a missing module.
   */
  omit?: { block: number; kind: ModuleKind };
}

/** The run's PEFT tensors of one module, as tfjs tensors (disposed by the caller's tidy). */
function moduleTensors(
  tensors: TensorValues,
  prefix: string,
  locals: readonly string[],
): Record<string, Tensor> {
  return Object.fromEntries(locals.map((local) => {
    const found = tensors.get(`${prefix}.${local}`);
    if (!found) throw new Error(`the run has no tensor "${prefix}.${local}"`);
    return [local, tf.tensor(found.data, found.shape, "float32")];
  }));
}

/**
 * Builds the encoder graph of a run.
 *
 * @param weights SAM's weights as the run sees them (`PeftModel.weights()`).
 * @param tensors the run's trained tensors in inference form (`PeftModel.exportTensors()`).
 *
 * @example
 * ```ts ignore
 * const graph = buildEncoderGraph(model.weights(), model.config, await model.exportTensors());
 * ```
 */
export function buildEncoderGraph(
  weights: ModelWeights,
  config: PeftConfig,
  tensors: TensorValues,
  options: EncoderGraphOptions = {},
): OnnxGraph {
  const g = new OnnxGraph("mopeft_image_encoder");
  // Every tfjs tensor made on the way (merged weights, relative embeddings) is freed here.
  tf.tidy(() => {
    const arch = weights.architecture.encoder;
    const spec = methodSpec(config.method);
    const size = arch.imageSize;
    const grid = arch.gridSize;
    g.input(ENCODER_INPUT, [1, 3, size, size]);
    // SAM's normalisation, (x - mean) / std per channel, as lib/encoder/preprocess.ts does it.
    const mean = g.constant("pixel_mean", Float32Array.from(PIXEL_MEAN), [1, 3, 1, 1]);
    const std = g.constant("pixel_std", Float32Array.from(PIXEL_STD), [1, 3, 1, 1]);
    const normalised = g.op("Div", [g.op("Sub", [ENCODER_INPUT, mean]), std]);
    const patches = g.op("Conv", [
      normalised,
      tensorConstant(g, "patch_embed.weight", weights.get("image_encoder.patch_embed.proj.weight")),
      tensorConstant(g, "patch_embed.bias", weights.get("image_encoder.patch_embed.proj.bias")),
    ], {
      kernel_shape: ints([arch.patchSize, arch.patchSize]),
      strides: ints([arch.patchSize, arch.patchSize]),
    });
    let x = g.op("Add", [
      transpose(g, patches, [0, 2, 3, 1]), // [1, g, g, D] as the library's tokens
      tensorConstant(g, "pos_embed", weights.get("image_encoder.pos_embed")),
    ]);
    for (let block = 0; block < arch.depth; block++) {
      const kinds = spec.modules.filter((kind) =>
        moduleBlocks(kind, arch.depth).includes(block) &&
        !(options.omit?.block === block && options.omit.kind === kind)
      );
      x = encoderBlock(g, weights, config, tensors, block, x, kinds);
    }
    // The neck, channel-last as lib/encoder/stages.ts runs it, then the official layout.
    let y = g.op("MatMul", [
      x,
      tensorConstant(
        g,
        "neck.0.weight",
        weights.get("image_encoder.neck.0.weight").reshape([arch.outChans, arch.embedDim]),
        [1, 0],
      ),
    ]);
    y = layerNorm(g, y, weights, "image_encoder.neck.1", ENCODER_EPS);
    y = g.op("Conv", [
      transpose(g, y, [0, 3, 1, 2]),
      tensorConstant(g, "neck.2.weight", weights.get("image_encoder.neck.2.weight")),
    ], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) });
    y = layerNorm(g, transpose(g, y, [0, 2, 3, 1]), weights, "image_encoder.neck.3", ENCODER_EPS);
    g.output(g.op("Transpose", [y], { perm: ints([0, 3, 1, 2]) }, ENCODER_OUTPUT), [
      1,
      arch.outChans,
      grid,
      grid,
    ]);
  });
  return g;
}

/** One block (lib/encoder/block.ts) with the PEFT modules `kinds` (lib/peft). */
function encoderBlock(
  g: OnnxGraph,
  weights: ModelWeights,
  config: PeftConfig,
  tensors: TensorValues,
  block: number,
  x: string,
  kinds: readonly ModuleKind[],
): string {
  const arch = weights.architecture.encoder;
  const gated = methodSpec(config.method).gated;
  const p = `image_encoder.blocks.${block}`;
  const width = arch.embedDim;
  const grid = arch.gridSize;
  // Each gate: mean over the block's input tokens of sigmoid(W x + b) (lib/peft/gate.ts), [1].
  const gate = (kind: ModuleKind): string | undefined => {
    if (!gated) return undefined;
    const name = gateName(block, kind);
    const t = moduleTensors(tensors, name, ["weight", "bias"]);
    const logits = linearOf(g, x, t.weight!, t.bias!, name); // [1, g, g, 1]
    return g.op("ReduceMean", [g.op("Sigmoid", [logits])], {
      axes: ints([1, 2, 3]),
      keepdims: int(0),
    });
  };
  const gates = new Map(kinds.map((kind) => [kind, gate(kind)]));

  const windowSize = arch.blockWindowSizes[block]!;
  const normed = layerNorm(g, x, weights, `${p}.norm1`, ENCODER_EPS);
  let windows: string;
  let side: number;
  let count: number;
  if (windowSize > 0) {
    // lib/encoder/window.ts: zeros at bottom/right, then batch-major windows.
    const pad = (windowSize - (grid % windowSize)) % windowSize;
    const padded = pad > 0
      ? g.op("Pad", [normed, g.int64s([0, 0, 0, 0, 0, pad, pad, 0])], {
        mode: { string: "constant" },
      })
      : normed;
    const cells = (grid + pad) / windowSize;
    windows = reshape(
      g,
      transpose(g, reshape(g, padded, [1, cells, windowSize, cells, windowSize, width]), [
        0,
        1,
        3,
        2,
        4,
        5,
      ]),
      [cells * cells, windowSize, windowSize, width],
    );
    side = windowSize;
    count = cells * cells;
  } else {
    windows = normed;
    side = grid;
    count = 1;
  }
  const attended = attention(
    g,
    weights,
    config,
    tensors,
    block,
    windows,
    count,
    side,
    kinds,
    gates,
  );
  let restored = attended;
  if (windowSize > 0) {
    const cells = Math.sqrt(count);
    restored = reshape(
      g,
      transpose(g, reshape(g, attended, [1, cells, cells, windowSize, windowSize, width]), [
        0,
        1,
        3,
        2,
        4,
        5,
      ]),
      [1, cells * windowSize, cells * windowSize, width],
    );
    if (cells * windowSize !== grid) {
      restored = slice(g, restored, [0, 0], [grid, grid], [1, 2]);
    }
  }
  const afterAttention = g.op("Add", [x, restored]);
  const hidden = gelu(
    g,
    linear(
      g,
      layerNorm(g, afterAttention, weights, `${p}.norm2`, ENCODER_EPS),
      weights,
      `${p}.mlp.lin1`,
    ),
  );
  let mlpOutput = linear(g, hidden, weights, `${p}.mlp.lin2`);
  if (kinds.includes("adapter")) {
    // lib/peft/adapter.ts: mlpOut + g · up(relu(down(mlpOut))); MoSA's stored adapter is its merge.
    const name = moduleName(block, "adapter");
    const t = moduleTensors(tensors, name, ["down.weight", "down.bias", "up.weight", "up.bias"]);
    const down = g.op("Relu", [
      linearOf(g, mlpOutput, t["down.weight"]!, t["down.bias"]!, `${name}.down`),
    ]);
    let delta = linearOf(g, down, t["up.weight"]!, t["up.bias"]!, `${name}.up`);
    const adapterGate = gates.get("adapter");
    if (adapterGate) delta = g.op("Mul", [delta, adapterGate]);
    mlpOutput = g.op("Add", [mlpOutput, delta]);
  }
  return g.op("Add", [afterAttention, mlpOutput]);
}

/** lib/encoder/attention.ts over `[count, side, side, D]` windows. */
function attention(
  g: OnnxGraph,
  weights: ModelWeights,
  config: PeftConfig,
  tensors: TensorValues,
  block: number,
  windows: string,
  count: number,
  side: number,
  kinds: readonly ModuleKind[],
  gates: Map<ModuleKind, string | undefined>,
): string {
  const arch = weights.architecture.encoder;
  const p = `image_encoder.blocks.${block}.attn`;
  const width = arch.embedDim;
  const heads = arch.numHeads;
  const headDim = arch.headDim;
  const tokens = side * side;
  const flat = reshape(g, windows, [count, tokens, width]);

  let qkvWeight = weights.get(`${p}.qkv.weight`);
  const lora = kinds.includes("lora")
    ? moduleTensors(tensors, moduleName(block, "lora"), [
      "query_a",
      "query_b",
      "value_a",
      "value_b",
    ])
    : undefined;
  const loraGate = gates.get("lora");
  // Ungated LoRA folds into the fused weight exactly (lib/peft/lora.ts mergeLora).
  if (lora && !loraGate) {
    qkvWeight = mergeLora(qkvWeight, {
      query_a: lora.query_a!,
      query_b: lora.query_b!,
      value_a: lora.value_a!,
      value_b: lora.value_b!,
    }, loraScale(config));
  }
  const qkv = linearOf(g, flat, qkvWeight, weights.get(`${p}.qkv.bias`), `${p}.qkv`);
  let [query, key, value] = split(g, qkv, 2, [width, width, width]) as [string, string, string];
  if (lora && loraGate) {
    // Gated LoRA (lib/peft/lora.ts loraDelta): the gate scales the rank-r projection.
    const name = moduleName(block, "lora");
    const update = (a: Tensor, b: Tensor, hint: string) =>
      linearOf(
        g,
        g.op("Mul", [linearOf(g, flat, a, undefined, `${hint}_a`), loraGate]),
        b,
        undefined,
        `${hint}_b`,
      );
    query = g.op("Add", [query, update(lora.query_a!, lora.query_b!, `${name}.query`)]);
    value = g.op("Add", [value, update(lora.value_a!, lora.value_b!, `${name}.value`)]);
  }
  const splitHeads = (v: string, length: number, n = count) =>
    transpose(g, reshape(g, v, [n, length, heads, headDim]), [0, 2, 1, 3]); // [n, heads, T, hd]
  const q = splitHeads(query, tokens);
  let k = splitHeads(key, tokens);
  let v = splitHeads(value, tokens);

  const prefixKind = kinds.find((kind) => kind === "prefix" || kind === "vpt");
  let prefixLength = 0;
  if (prefixKind) {
    // Every window attends to the same (gated) prefixes (lib/peft/prefix.ts prefixForBatch).
    const name = moduleName(block, prefixKind);
    const t = moduleTensors(tensors, name, ["keys", "values"]);
    prefixLength = t.keys!.shape[0]!;
    const prefixGate = gates.get(prefixKind);
    const perWindow = (tensor: Tensor, hint: string) => {
      let values = tensorConstant(g, hint, tensor); // [L, D]
      if (prefixGate) values = g.op("Mul", [values, prefixGate]);
      const split = splitHeads(values, prefixLength, 1); // [1, heads, L, hd]
      return count === 1
        ? split
        : g.op("Expand", [split, g.int64s([count, heads, prefixLength, headDim])]);
    };
    k = g.op("Concat", [perWindow(t.keys!, `${name}.keys`), k], { axis: int(2) });
    v = g.op("Concat", [perWindow(t.values!, `${name}.values`), v], { axis: int(2) });
  }
  const scale = 1 / Math.sqrt(headDim);
  const logits = g.op("MatMul", [g.op("Mul", [q, g.scalar(scale)]), transpose(g, k, [0, 1, 3, 2])]);

  // Decomposed relative positions from the unscaled queries (lib/encoder/relative_position.ts).
  const rows = count * heads;
  const q4 = reshape(g, q, [rows, side, side, headDim]);
  const bias = (table: Tensor, along: "rows" | "columns", hint: string) => {
    const embedding = relativeEmbeddings(side, side, table); // [side, k, hd]
    const toBatched = along === "rows" ? [1, 0, 2, 3] : [2, 0, 1, 3];
    const fromBatched = along === "rows" ? [1, 0, 2, 3] : [1, 2, 0, 3];
    const batched = reshape(g, transpose(g, q4, toBatched), [side, rows * side, headDim]);
    const product = g.op("MatMul", [batched, tensorConstant(g, hint, embedding, [0, 2, 1])]);
    return transpose(g, reshape(g, product, [side, rows, side, side]), fromBatched); // [rows, y, x, k]
  };
  const biasH = bias(weights.get(`${p}.rel_pos_h`), "rows", `${p}.rel_h`);
  const biasW = bias(weights.get(`${p}.rel_pos_w`), "columns", `${p}.rel_w`);
  // [rows, y, x, kh, 1] + [rows, y, x, 1, kw] → the spatial part of the logits.
  let spatial = reshape(
    g,
    g.op("Add", [
      reshape(g, biasH, [rows, side, side, side, 1]),
      reshape(g, biasW, [rows, side, side, 1, side]),
    ]),
    [count, heads, tokens, tokens],
  );
  if (prefixLength > 0) {
    // Prefixes carry no relative-position term: zeros in front.
    spatial = g.op("Pad", [spatial, g.int64s([0, 0, 0, prefixLength, 0, 0, 0, 0])], {
      mode: { string: "constant" },
    });
  }
  const probabilities = g.op("Softmax", [g.op("Add", [logits, spatial])], { axis: int(-1) });
  const out = g.op("MatMul", [probabilities, v]); // [count, heads, T, hd]
  const merged = reshape(g, transpose(g, out, [0, 2, 1, 3]), [count, tokens, width]);
  const projected = linear(g, merged, weights, `${p}.proj`);
  return reshape(g, projected, [count, side, side, width]);
}
