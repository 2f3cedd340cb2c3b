import assert from "node:assert/strict";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { startThreadedWasm } from "../../lib/backend/wasm_threads.ts";
import { useBackend } from "../../lib/backend/backend.ts";
import { tf } from "../../lib/backend/tf.ts";

// A file of its own: the wasm build is chosen once per isolate, and this one must end up plain.
Deno.test("a threaded start that stalls is torn down and the single-threaded build starts", async () => {
  const webWorker = globalThis.Worker;
  await useBackend("cpu");
  await assert.rejects(startThreadedWasm(2, 1), /no start within 1 ms/);
  assert.equal(globalThis.Worker, webWorker, "the glue's Worker override is undone");
  await tf.setBackend("wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(getThreadsCount(), 1);
  assert.equal((await tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).data())[0], 64);
});
