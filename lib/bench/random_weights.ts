/**
 * SAM weights with random values in the official layout, made in memory (no file).
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { architectureOf, randomSamTensors, type SamSize } from "../encoder/random_checkpoint.ts";
import { SamWeights } from "../encoder/weights.ts";

/**
 * Random SAM weights of `size` on the active backend; only shapes matter for timing. The caller
 * disposes them.
 *
 * @example
 * ```ts ignore
 * const weights = randomSamWeights(TINY_SIZE, 1);
 * weights.architecture.encoder.depth; // 4
 * weights.dispose();
 * ```
 */
export function randomSamWeights(size: SamSize, seed: number): SamWeights {
  const architecture = architectureOf(size);
  const tensors = new Map<string, Tensor>();
  try {
    for (const generated of randomSamTensors(architecture, seed)) {
      tensors.set(generated.name, tf.tensor(generated.data(), generated.shape, "float32"));
    }
  } catch (error) {
    tf.dispose([...tensors.values()]);
    throw error;
  }
  return new SamWeights(architecture, tensors);
}
