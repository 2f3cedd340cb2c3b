import assert from "node:assert/strict";
import {
  MAX_WASM_THREADS,
  startThreadedWasm,
  wasmThreadsFromEnv,
} from "../../lib/backend/wasm_threads.ts";
import { useBackend } from "../../lib/backend/backend.ts";
import { tf } from "../../lib/backend/tf.ts";
import { assertAllClose } from "../_backends.ts";

Deno.test("MOPEFT_WASM_THREADS: off by default, auto means every core, capped at the pool size", () => {
  for (const off of [undefined, "", "0", "1", "off", " OFF "]) {
    assert.equal(wasmThreadsFromEnv(off, 4), 1);
  }
  assert.equal(wasmThreadsFromEnv("auto", 2), 2);
  assert.equal(wasmThreadsFromEnv("3", 2), 3);
  assert.equal(wasmThreadsFromEnv("64", 2), MAX_WASM_THREADS);
  assert.throws(() => wasmThreadsFromEnv("many", 2));
  assert.throws(() => wasmThreadsFromEnv("1.5", 2));
});

// This file runs in its own isolate, so starting the threaded build here does not change the
// build other test files get. The test also checks that the workers do not keep the process or
// the test alive (the op and resource sanitizers stay on).
Deno.test("the threaded SIMD build starts with 2 threads and matches the cpu backend", async () => {
  await useBackend("cpu");
  const a = tf.tidy(() => tf.randomNormal([300, 200], 0, 1, "float32", 1));
  const b = tf.tidy(() => tf.randomNormal([200, 150], 0, 1, "float32", 2));
  const expected = await tf.matMul(a, b).data();
  const expectedGrad = await tf.grad((x: tf.Tensor) => tf.matMul(x, b).square().sum())(a).data();

  assert.equal(await startThreadedWasm(2), 2);
  assert.equal(tf.getBackend(), "wasm");
  assertAllClose(await tf.matMul(a, b).data(), expected, 1e-4, "matMul");
  const grad = await tf.grad((x: tf.Tensor) => tf.matMul(x, b).square().sum())(a).data();
  assertAllClose(grad, expectedGrad, 1e-2, "gradient");
  // useBackend keeps the threaded backend it finds running.
  assert.equal((await useBackend("wasm")).backend, "wasm");
  await assert.rejects(() => startThreadedWasm(2));
});
