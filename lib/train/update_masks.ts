/**
 * A step's update masks (see `TrainableModel.gradientMasks`) applied to its gradients: a 0/1
 * mask multiplies its variable's gradient, a null mask drops it (the variable is not updated
 * that step), a variable without a mask keeps its gradient.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";

/** Variable name -> 0/1 mask, or null for a variable not updated this step. */
export type UpdateMasks = ReadonlyMap<string, Tensor | null>;

/**
 * Applies `masks` to `gradients` in place (by variable name), disposing every gradient it
 * replaces or drops. Throws when a tensor mask names a variable that has no gradient.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const gradients = new Map([["w", tf.tensor1d([1, 2])], ["b", tf.tensor1d([3])]]);
 * maskGradients(gradients, new Map([["w", tf.tensor1d([0, 1])], ["b", null]]));
 * gradients.get("w")!.arraySync(); // [0, 2]; "b" is gone
 * ```
 */
export function maskGradients(gradients: Map<string, Tensor>, masks: UpdateMasks): void {
  for (const [name, mask] of masks) {
    const gradient = gradients.get(name);
    if (mask === null) {
      gradient?.dispose();
      gradients.delete(name);
      continue;
    }
    if (!gradient) throw new Error(`Gradient mask for unknown variable "${name}"`);
    gradients.set(name, tf.mul(gradient, mask));
    gradient.dispose();
  }
}

/**
 * The tensors among `masks`, for disposing.
 *
 * @example
 * ```ts ignore
 * tf.dispose(maskTensors(masks));
 * ```
 */
export function maskTensors(masks: UpdateMasks | undefined): Tensor[] {
  return masks ? [...masks.values()].filter((mask): mask is Tensor => mask !== null) : [];
}
