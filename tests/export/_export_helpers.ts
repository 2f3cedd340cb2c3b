/**
 * Shared fixtures of the export tests: tiny runs whose PEFT modules are non-trivial (random
 * values, gates well inside (0, 1)), images in the exported graphs' form, and the comparison
 * with the tfjs model.
 *
 * @module
 */
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { PIXEL_MEAN, PIXEL_STD } from "../../lib/encoder/preprocess.ts";
import type { SamSize } from "../../lib/encoder/random_checkpoint.ts";
import type { SamWeights } from "../../lib/encoder/weights.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import type { HeadConfig } from "../../lib/decoder/head.ts";
import { SMALL_CONFIG } from "../peft/_helpers.ts";

/** The methods the export covers (every one but full fine-tuning, which adds no module). */
export const EXPORT_METHODS = [
  "decoder",
  "lora",
  "prefix",
  "vpt",
  "adapter",
  "mosa",
  "mopeft",
] as const;

/**
 * A run of `method` over `sam` with every trained tensor randomised: PEFT modules of a size that
 * moves the embeddings, gates whose values fall between about 0.25 and 0.75.
 */
export function randomisedRun(
  sam: SamWeights,
  method: string,
  seed = 11,
  head?: HeadConfig,
): PeftModel {
  const model = PeftModel.create(sam, validatePeftConfig({ method, ...SMALL_CONFIG }), {
    numClasses: 3,
    seed: 3,
    head,
  });
  const random = mulberry32(seed);
  for (const [name, variable] of model.trainableVariables()) {
    if (name.startsWith("mask_decoder.")) continue;
    const count = variable.size;
    const values = new Float32Array(count);
    const width = variable.shape[variable.shape.length - 1]!;
    for (let i = 0; i < count; i++) {
      const u = 2 * random() - 1;
      if (name.includes(".gate.")) {
        values[i] = name.endsWith(".bias") ? u : 2 * u / Math.sqrt(width);
      } else values[i] = u * 1.5 / Math.sqrt(width);
    }
    variable.assign(tf.tensor(values, variable.shape, "float32"));
  }
  return model;
}

/** A seeded RGB image in the exported encoder's form (`[1, 3, S, S]`, 0..255) and the library's. */
export function randomImage(size: SamSize, seed = 7): { rgb: Float32Array; normalised: Tensor4D } {
  const random = mulberry32(seed);
  const s = size.imageSize;
  const rgb = new Float32Array(3 * s * s);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.floor(random() * 256);
  const channelLast = new Float32Array(3 * s * s);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < s * s; i++) {
      channelLast[i * 3 + c] = (rgb[c * s * s + i]! - PIXEL_MEAN[c]!) / PIXEL_STD[c]!;
    }
  }
  return { rgb, normalised: tf.tensor4d(channelLast, [1, s, s, 3]) };
}

/** The largest absolute difference, relative to the reference's largest magnitude. */
export function relativeMaxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new RangeError(`lengths differ: ${actual.length} vs ${expected.length}`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}
