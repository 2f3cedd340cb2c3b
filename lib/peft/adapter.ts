/**
 * The bottleneck adapter after each block's MLP: `mlpOut + g · up(relu(down(mlpOut)))`, with
 * Linear(D, D_mid) down, Linear(D_mid, D) up (both with biases) and the up-projection starting at
 * zero so the model starts unchanged. `g` is 1 alone and the adapter gate in `mopeft`.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor4D, tf } from "../backend/tf.ts";
import { linear } from "../nn/linear.ts";
import type { PeftConfig } from "./config.ts";
import { tensorSeed, uniformValues } from "../nn/init.ts";

/** Local names of one block's adapter tensors (`encoder.blocks.<i>.adapter.<name>`). */
export const ADAPTER_TENSOR_NAMES = ["down.weight", "down.bias", "up.weight", "up.bias"] as const;

/** One of {@link ADAPTER_TENSOR_NAMES}. */
export type AdapterTensorName = typeof ADAPTER_TENSOR_NAMES[number];

/** One block's adapter tensors. */
export type AdapterTensors = Record<AdapterTensorName, Tensor>;

/**
 * Shapes of one block's adapter tensors (D·D_mid + D_mid + D_mid·D + D values).
 *
 * @example
 * ```ts
 * adapterShapes(768, { adapterDim: 64 })["down.weight"]; // [64, 768]
 * ```
 */
export function adapterShapes(
  embedDim: number,
  config: Pick<PeftConfig, "adapterDim">,
): Record<AdapterTensorName, number[]> {
  const mid = config.adapterDim;
  return {
    "down.weight": [mid, embedDim],
    "down.bias": [mid],
    "up.weight": [embedDim, mid],
    "up.bias": [embedDim],
  };
}

/**
 * Initial values: the down-projection as PyTorch's Linear (uniform, bound 1/sqrt(D)), the
 * up-projection all zeros. `prefix` (the tensors' name prefix) salts the seed.
 *
 * @example
 * ```ts
 * const init = initialAdapter(32, { adapterDim: 4 }, 1, "encoder.blocks.0.adapter");
 * init["up.weight"].every((v) => v === 0); // true
 * ```
 */
export function initialAdapter(
  embedDim: number,
  config: Pick<PeftConfig, "adapterDim">,
  seed: number,
  prefix: string,
): Record<AdapterTensorName, Float32Array> {
  const mid = config.adapterDim;
  const bound = 1 / Math.sqrt(embedDim);
  return {
    "down.weight": uniformValues(mid * embedDim, bound, tensorSeed(seed, `${prefix}.down.weight`)),
    "down.bias": uniformValues(mid, bound, tensorSeed(seed, `${prefix}.down.bias`)),
    "up.weight": new Float32Array(embedDim * mid),
    "up.bias": new Float32Array(embedDim),
  };
}

/**
 * `mlpOutput + gate · adapter(mlpOutput)` on `[B, H, W, D]`.
 *
 * @param gate the adapter gate `[B]`, or undefined for 1.
 *
 * @example
 * ```ts ignore
 * const out = adapterOutput(mlpOutput, adapter); // ungated
 * ```
 */
export function adapterOutput(
  mlpOutput: Tensor4D,
  adapter: AdapterTensors,
  gate?: Tensor1D,
): Tensor4D {
  return tf.tidy(() => {
    const hidden = tf.relu(linear(mlpOutput, adapter["down.weight"], adapter["down.bias"]));
    let delta = linear(hidden, adapter["up.weight"], adapter["up.bias"]); // [B, H, W, D]
    if (gate) delta = tf.mul(delta, gate.reshape([-1, 1, 1, 1]));
    return tf.add(mlpOutput, delta) as Tensor4D;
  });
}
