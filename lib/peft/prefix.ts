/**
 * Prefix tuning (VPT-Deep): in every block, L learned key and value vectors `P_K`, `P_V` `[L, D]`
 * are prepended to the keys and values of attention (every window attends to the same prefixes;
 * they carry no relative-position term). Queries are unchanged.
 *
 * During training the prefixes are produced by a reparameterisation MLP (Li & Liang), which makes
 * their optimisation better conditioned: a per-block input embedding `[L, D]` goes through a
 * shared Linear(D, H) → tanh → Linear(H, 2D), whose output splits into keys and values. After
 * training only the resulting flat `P_K`, `P_V` are kept. In `mopeft` the prefix gate `G_P`
 * multiplies both.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor2D, type Tensor3D, tf } from "../backend/tf.ts";
import { linear } from "../nn/linear.ts";
import type { PeftConfig } from "./config.ts";
import { normalValues, tensorSeed, uniformValues } from "../nn/init.ts";

/** Local names of the reparameterisation MLP's tensors (Linear, tanh, Linear: indexes 0 and 2). */
export const PREFIX_REPARAM_NAMES = ["0.weight", "0.bias", "2.weight", "2.bias"] as const;

/** One of {@link PREFIX_REPARAM_NAMES}. */
export type PrefixReparamName = typeof PREFIX_REPARAM_NAMES[number];

/** The reparameterisation MLP shared by the blocks. */
export type PrefixReparam = Record<PrefixReparamName, Tensor>;

/** One block's prefixes as attention uses them. */
export interface FlatPrefix {
  /** `[L, D]`. */
  keys: Tensor;
  /** `[L, D]`. */
  values: Tensor;
}

/** The blocks that carry prefixes in VPT-Deep: all of them. */
export function prefixBlockIndexes(depth: number): number[] {
  return Array.from({ length: depth }, (_, block) => block);
}

/**
 * Shapes of one block's prefix tensors: the training-time input `embedding` and the flat
 * inference-time `keys` and `values`, all `[L, D]`.
 *
 * @example
 * ```ts
 * prefixShapes(768, { prefixLength: 20 }).keys; // [20, 768]
 * ```
 */
export function prefixShapes(
  embedDim: number,
  config: Pick<PeftConfig, "prefixLength">,
): { embedding: number[]; keys: number[]; values: number[] } {
  const shape = [config.prefixLength, embedDim];
  return { embedding: shape, keys: [...shape], values: [...shape] };
}

/**
 * Shapes of the reparameterisation MLP: Linear(D, H) and Linear(H, 2D), PyTorch layout.
 *
 * @example
 * ```ts
 * prefixReparamShapes(768, { prefixHidden: 64 })["2.weight"]; // [1536, 64]
 * ```
 */
export function prefixReparamShapes(
  embedDim: number,
  config: Pick<PeftConfig, "prefixHidden">,
): Record<PrefixReparamName, number[]> {
  const hidden = config.prefixHidden;
  return {
    "0.weight": [hidden, embedDim],
    "0.bias": [hidden],
    "2.weight": [2 * embedDim, hidden],
    "2.bias": [2 * embedDim],
  };
}

/**
 * A block's initial input embedding, N(0, 1) as PyTorch's `nn.Embedding`. `name` salts the seed.
 *
 * @example
 * ```ts
 * initialPrefixEmbedding(32, { prefixLength: 3 }, 1, "encoder.blocks.0.prefix.embedding").length; // 96
 * ```
 */
export function initialPrefixEmbedding(
  embedDim: number,
  config: Pick<PeftConfig, "prefixLength">,
  seed: number,
  name: string,
): Float32Array {
  return normalValues(config.prefixLength * embedDim, 1, tensorSeed(seed, name));
}

/**
 * Initial reparameterisation MLP, as PyTorch's Linear (uniform, bound 1/sqrt(fan-in), biases
 * too). `prefix` (the tensors' name prefix) salts the seed.
 *
 * @example
 * ```ts
 * const mlp = initialPrefixReparam(32, { prefixHidden: 8 }, 1, "encoder.prefix_reparam");
 * mlp["2.bias"].length; // 64
 * ```
 */
export function initialPrefixReparam(
  embedDim: number,
  config: Pick<PeftConfig, "prefixHidden">,
  seed: number,
  prefix: string,
): Record<PrefixReparamName, Float32Array> {
  const hidden = config.prefixHidden;
  const draw = (name: PrefixReparamName, count: number, fanIn: number) =>
    uniformValues(count, 1 / Math.sqrt(fanIn), tensorSeed(seed, `${prefix}.${name}`));
  return {
    "0.weight": draw("0.weight", hidden * embedDim, embedDim),
    "0.bias": draw("0.bias", hidden, embedDim),
    "2.weight": draw("2.weight", 2 * embedDim * hidden, hidden),
    "2.bias": draw("2.bias", 2 * embedDim, hidden),
  };
}

/**
 * Runs the reparameterisation MLP on a block's input embedding `[L, D]`: the flat keys and
 * values `[L, D]` (what is exported after training).
 *
 * @example
 * ```ts ignore
 * const { keys, values } = reparameterisePrefix(embedding, mlp);
 * ```
 */
export function reparameterisePrefix(embedding: Tensor, reparam: PrefixReparam): FlatPrefix {
  return tf.tidy(() => {
    const hidden = tf.tanh(linear(embedding, reparam["0.weight"], reparam["0.bias"])); // [L, H]
    const both = linear(hidden, reparam["2.weight"], reparam["2.bias"]) as Tensor2D; // [L, 2D]
    const [keys, values] = tf.split(both, 2, 1);
    return { keys: keys!, values: values! };
  });
}

/**
 * The prefixes for a batch of `batch` images, `[B, L, D]` each, multiplied by the prefix gate
 * `[B]` when there is one (as the encoder's `BlockExtension.prefix` takes them).
 *
 * @example
 * ```ts ignore
 * const prefix = prefixForBatch(flat, 2); // keys [2, L, D]
 * ```
 */
export function prefixForBatch(
  prefix: FlatPrefix,
  batch: number,
  gate?: Tensor1D,
): { keys: Tensor3D; values: Tensor3D } {
  return tf.tidy(() => {
    const expand = (p: Tensor): Tensor3D => {
      // Concatenation, not tf.broadcastTo: that is a Tile, about 80 ns per element on wasm.
      const repeated = batch === 1
        ? p.expandDims(0)
        : tf.concat(new Array<Tensor>(batch).fill(p.expandDims(0)), 0); // [B, L, D]
      return (gate ? tf.mul(repeated, gate.reshape([-1, 1, 1])) : repeated) as Tensor3D;
    };
    return { keys: expand(prefix.keys), values: expand(prefix.values) };
  });
}
