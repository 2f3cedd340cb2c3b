import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { conv3x3, patchConv, pointwiseConv, upConv2x2 } from "../../lib/nn/convolution.ts";
import { assertAllClose, availableBackends, onBackend, take } from "../_backends.ts";

// Reference results come from tfjs's own conv kernels on the cpu backend.
function reference<T>(fn: () => T): Promise<T> {
  return onBackend("cpu").then(fn);
}

Deno.test("patchConv() equals a stride-16 conv2d", async () => {
  await onBackend("cpu");
  const x = tf.randomNormal([2, 32, 48, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([5, 3, 16, 16], 0, 0.1, "float32", 2);
  const b = tf.randomNormal([5], 0, 1, "float32", 3);
  const expected = await take(
    tf.add(tf.conv2d(x, w.transpose([2, 3, 1, 0]) as tf.Tensor4D, 16, "valid"), b),
  );
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    const y = patchConv(x, w, b);
    assertEquals(y.shape, [2, 2, 3, 5]);
    assertAllClose(await take(y), expected, 1e-4, backend);
  }
  await reference(() => tf.dispose([x, w, b]));
});

Deno.test("conv3x3() and pointwiseConv() equal conv2d with padding 1 and 1x1 kernels", async () => {
  await onBackend("cpu");
  const x = tf.randomNormal([1, 5, 7, 4], 0, 1, "float32", 4) as tf.Tensor4D;
  const w3 = tf.randomNormal([6, 4, 3, 3], 0, 0.3, "float32", 5);
  const w1 = tf.randomNormal([6, 4, 1, 1], 0, 0.3, "float32", 6);
  const expected3 = await take(tf.conv2d(x, w3.transpose([2, 3, 1, 0]) as tf.Tensor4D, 1, "same"));
  const expected1 = await take(tf.conv2d(x, w1.transpose([2, 3, 1, 0]) as tf.Tensor4D, 1, "same"));
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    assertAllClose(await take(conv3x3(x, w3)), expected3, 1e-4, `conv3x3 ${backend}`);
    assertAllClose(await take(pointwiseConv(x, w1)), expected1, 1e-4, `1x1 ${backend}`);
  }
  await reference(() => tf.dispose([x, w3, w1]));
});

Deno.test("upConv2x2() equals a kernel-2 stride-2 conv2dTranspose", async () => {
  await onBackend("cpu");
  const x = tf.randomNormal([2, 3, 4, 8], 0, 1, "float32", 7) as tf.Tensor4D;
  const w = tf.randomNormal([8, 2, 2, 2], 0, 0.3, "float32", 8); // [in, out, kH, kW]
  const b = tf.randomNormal([2], 0, 1, "float32", 9);
  // tfjs's conv2dTranspose filter is [kH, kW, out, in].
  const expected = await take(
    tf.add(
      tf.conv2dTranspose(x, w.transpose([2, 3, 1, 0]) as tf.Tensor4D, [2, 6, 8, 2], 2, "valid"),
      b,
    ),
  );
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    const y = upConv2x2(x, w, b);
    assertEquals(y.shape, [2, 6, 8, 2]);
    assertAllClose(await take(y), expected, 1e-4, backend);
  }
  await reference(() => tf.dispose([x, w, b]));
});

Deno.test("convolution weight gradients work on wasm (no Conv2DBackpropFilter needed)", async () => {
  await onBackend("wasm");
  const x = tf.randomNormal([1, 4, 4, 8], 0, 1, "float32", 10) as tf.Tensor4D;
  const w = tf.randomNormal([8, 2, 2, 2], 0, 0.3, "float32", 11);
  const w3 = tf.randomNormal([8, 8, 3, 3], 0, 0.3, "float32", 12);
  const b = tf.zeros([2]);
  const grads = tf.grads((weight: tf.Tensor, weight3: tf.Tensor) =>
    tf.sum(upConv2x2(conv3x3(x, weight3), weight, b))
  )([w, w3]);
  assertEquals(grads[0]!.shape, [8, 2, 2, 2]);
  assertEquals(grads[1]!.shape, [8, 8, 3, 3]);
  tf.dispose([x, w, w3, b, ...grads]);
});

Deno.test("convolutions leave no tensors behind", async () => {
  await onBackend("cpu");
  const x = tf.ones([1, 4, 4, 8]) as tf.Tensor4D;
  const w = tf.ones([8, 8, 3, 3]);
  const before = tf.memory().numTensors;
  conv3x3(x, w).dispose();
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([x, w]);
});
