/** A step's update masks applied to its gradients. */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { maskGradients, maskTensors } from "../../lib/train/update_masks.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

Deno.test("maskGradients() multiplies by a 0/1 mask, drops a null one, keeps the unmasked", () => {
  const before = tf.memory().numTensors;
  const gradients = new Map([
    ["w", tf.tensor1d([1, 2, 3])],
    ["undrawn", tf.tensor1d([4])],
    ["dense", tf.tensor1d([5, 6])],
  ]);
  const masks = new Map([["w", tf.tensor1d([0, 1, 1])], ["undrawn", null], ["absent", null]]);
  maskGradients(gradients, masks);
  assertEquals([...gradients.keys()].sort(), ["dense", "w"]);
  assertEquals(Array.from(gradients.get("w")!.dataSync()), [0, 2, 3]);
  assertEquals(Array.from(gradients.get("dense")!.dataSync()), [5, 6]);
  assertEquals(maskTensors(masks).length, 1);
  tf.dispose([...gradients.values(), ...maskTensors(masks)]);
  // Every replaced or dropped gradient was freed.
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("maskGradients() refuses a mask for a variable without a gradient", () => {
  const mask = tf.tensor1d([1]);
  throws(() => maskGradients(new Map(), new Map([["w", mask]])), /unknown variable "w"/);
  mask.dispose();
});
