/**
 * The gates of the Mixture of PEFTs: one per method per block, each a tiny feed-forward net on the
 * block's input tokens ending in a sigmoid, averaged over the tokens (UniPELT's form).
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor4D, tf } from "../backend/tf.ts";
import { linear } from "../nn/linear.ts";
import { normalValues, tensorSeed } from "../nn/init.ts";
import type { ModuleKind } from "./registry.ts";

/** Standard deviation of the initial gate weights: small, so every gate starts near 0.5. */
export const GATE_INIT_STD = 0.01;

/** The two tensors of one gate, in PyTorch's Linear layout. */
export interface GateTensors {
  /** `[1, D]`. */
  weight: Tensor;
  /** `[1]`. */
  bias: Tensor;
}

/**
 * Receives every gate's values while the model runs: the model calls {@link capture} once per
 * gate per forward pass. The gate recorder of `inspect-gates` (`lib/gate/recorder.ts`) is one; the
 * model knows only this interface, so the recording and its reports sit above the PEFT modules.
 */
export interface GateObserver {
  /**
   * The values `[B]` of gate `kind` in block `block`. They live in the forward pass's tidy scope:
   * an observer that reads them later keeps a copy.
   */
  capture(block: number, kind: ModuleKind, values: Tensor1D): void;
}

/** Shapes of one gate's tensors for token width `embedDim`. */
export function gateShapes(embedDim: number): { weight: number[]; bias: number[] } {
  return { weight: [1, embedDim], bias: [1] };
}

/**
 * Initial values of one gate: weight ~ N(0, 0.01²), bias 0, so that g ≈ sigmoid(0) = 0.5 and
 * every method starts half on. `name` salts the seed (use the tensor's prefix).
 *
 * @example
 * ```ts
 * const { weight, bias } = initialGate(32, 7, "encoder.blocks.0.gate.lora");
 * weight.length; // 32
 * bias[0]; // 0
 * ```
 */
export function initialGate(
  embedDim: number,
  seed: number,
  name: string,
): { weight: Float32Array; bias: Float32Array } {
  return {
    weight: normalValues(embedDim, GATE_INIT_STD, tensorSeed(seed, `${name}.weight`)),
    bias: new Float32Array(1),
  };
}

/**
 * `g(x) = mean over tokens of sigmoid(W x + b)`: one value in (0, 1) per sample.
 *
 * @param blockInput `[B, H, W, D]` the block's input tokens.
 * @returns `[B]`.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const g = gateValue(tf.zeros([2, 4, 4, 8]), { weight: tf.zeros([1, 8]), bias: tf.zeros([1]) });
 * g.shape; // [2]; every value 0.5
 * ```
 */
export function gateValue(blockInput: Tensor4D, gate: GateTensors): Tensor1D {
  return tf.tidy(() => {
    const logits = linear(blockInput, gate.weight, gate.bias); // [B, H, W, 1]
    return tf.mean(tf.sigmoid(logits), [1, 2, 3]) as Tensor1D; // [B]
  });
}

/**
 * Repeats a per-image value `[B]` once per window, `[B * windowsPerImage]`, in the batch-major
 * order of the encoder's window partition.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * repeatPerWindow(tf.tensor1d([1, 2]), 3).dataSync(); // [1, 1, 1, 2, 2, 2]
 * ```
 */
export function repeatPerWindow(perImage: Tensor1D, windowsPerImage: number): Tensor1D {
  if (windowsPerImage === 1) return perImage;
  return tf.tidy(() =>
    tf.tile(perImage.reshape([-1, 1]), [1, windowsPerImage]).reshape([-1]) as Tensor1D
  );
}
