import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { partitionWindows, unpartitionWindows } from "../../lib/encoder/window.ts";
import { onBackend, take } from "../_backends.ts";

Deno.test("partitionWindows() pads with zeros and unpartitionWindows() restores the grid", async () => {
  await onBackend("cpu");
  const x = tf.randomNormal([2, 5, 7, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const windows = partitionWindows(x, 3);
  // 5 -> 6 rows (2 windows), 7 -> 9 columns (3 windows): 6 windows per image.
  assertEquals(windows.shape, [12, 3, 3, 3]);
  // Window 2 of image 0 covers columns 6..8 of rows 0..2; columns 7 and 8 are padding.
  const third = await take(tf.slice(windows, [2, 0, 1, 0], [1, 3, 2, 3]));
  assertEquals([...third], new Array(18).fill(0));
  const restored = unpartitionWindows(windows, 3, 5, 7);
  assertEquals([...await take(restored)], [...await x.data()]);
  tf.dispose([x, windows]);
});
