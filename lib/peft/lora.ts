/**
 * LoRA on the query and value parts of each block's fused `qkv` projection:
 * `q += s · B_q A_q x`, `v += s · B_v A_v x`, with `A` `[r, D]` and `B` `[D, r]` (PyTorch Linear
 * layouts of Linear(D, r) and Linear(r, D)). `B` starts at zero so the model starts unchanged.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor3D, tf } from "../backend/tf.ts";
import { repeatPerWindow } from "./gate.ts";
import { linear } from "../nn/linear.ts";
import type { PeftConfig } from "./config.ts";
import { tensorSeed, uniformValues } from "../nn/init.ts";

/** Local names of one block's LoRA tensors (`encoder.blocks.<i>.lora.<name>`). */
export const LORA_TENSOR_NAMES = ["query_a", "query_b", "value_a", "value_b"] as const;

/** One of {@link LORA_TENSOR_NAMES}. */
export type LoraTensorName = typeof LORA_TENSOR_NAMES[number];

/** One block's LoRA tensors: `*_a` `[r, D]`, `*_b` `[D, r]`. */
export type LoraTensors = Record<LoraTensorName, Tensor>;

/**
 * Shapes of one block's LoRA tensors.
 *
 * @example
 * ```ts
 * loraShapes(768, { loraRank: 8 }).query_a; // [8, 768]
 * ```
 */
export function loraShapes(
  embedDim: number,
  config: Pick<PeftConfig, "loraRank">,
): Record<LoraTensorName, number[]> {
  const r = config.loraRank;
  return {
    query_a: [r, embedDim],
    query_b: [embedDim, r],
    value_a: [r, embedDim],
    value_b: [embedDim, r],
  };
}

/**
 * Initial values: `A` Kaiming-uniform as PyTorch's Linear (bound 1/sqrt(D)), `B` zeros.
 * `prefix` (the tensors' name prefix) salts the seed.
 *
 * @example
 * ```ts
 * const init = initialLora(32, { loraRank: 4 }, 1, "encoder.blocks.0.lora");
 * init.query_b.every((v) => v === 0); // true
 * ```
 */
export function initialLora(
  embedDim: number,
  config: Pick<PeftConfig, "loraRank">,
  seed: number,
  prefix: string,
): Record<LoraTensorName, Float32Array> {
  const count = config.loraRank * embedDim;
  const bound = 1 / Math.sqrt(embedDim);
  return {
    query_a: uniformValues(count, bound, tensorSeed(seed, `${prefix}.query_a`)),
    query_b: new Float32Array(count),
    value_a: uniformValues(count, bound, tensorSeed(seed, `${prefix}.value_a`)),
    value_b: new Float32Array(count),
  };
}

/** The ungated LoRA scale `alpha / r`. */
export function loraScale(config: Pick<PeftConfig, "loraRank" | "loraAlpha">): number {
  return config.loraAlpha / config.loraRank;
}

/**
 * The LoRA terms added to q and v.
 *
 * @param tokens `[N, T, D]` attention input, N = B * windowsPerImage.
 * @param scale `alpha / r`, or the LoRA gate `[B]` (one value per image, repeated per window).
 * @returns `[N, T, D]` each.
 *
 * @example
 * ```ts ignore
 * const { query, value } = loraDelta(tokens, lora, 1, windowsPerImage);
 * ```
 */
export function loraDelta(
  tokens: Tensor3D,
  lora: LoraTensors,
  scale: number | Tensor1D,
  windowsPerImage: number,
): { query: Tensor; value: Tensor } {
  return tf.tidy(() => {
    const s = typeof scale === "number"
      ? scale
      : repeatPerWindow(scale, windowsPerImage).reshape([-1, 1, 1]); // [N, 1, 1]
    // The scale multiplies the rank-r projection [N, T, r], D/r times smaller than the update.
    const update = (a: Tensor, b: Tensor) => linear(tf.mul(linear(tokens, a), s), b); // [N,T,D]
    return { query: update(lora.query_a, lora.query_b), value: update(lora.value_a, lora.value_b) };
  });
}

/**
 * Folds ungated LoRA into a fused qkv weight `[3D, D]`: rows 0..D (q) gain `s · B_q A_q`, rows
 * 2D..3D (v) gain `s · B_v A_v`; k is unchanged. Exact up to float rounding.
 *
 * @example
 * ```ts ignore
 * const merged = mergeLora(weights.get("image_encoder.blocks.0.attn.qkv.weight"), lora, 1);
 * ```
 */
export function mergeLora(qkvWeight: Tensor, lora: LoraTensors, scale: number): Tensor {
  return tf.tidy(() => {
    const [query, key, value] = tf.split(qkvWeight, 3, 0); // [D, D] each
    const deltaQ = tf.mul(tf.matMul(lora.query_b, lora.query_a), scale); // [D, r] x [r, D]
    const deltaV = tf.mul(tf.matMul(lora.value_b, lora.value_a), scale);
    return tf.concat([tf.add(query!, deltaQ), key!, tf.add(value!, deltaV)], 0); // [3D, D]
  });
}
