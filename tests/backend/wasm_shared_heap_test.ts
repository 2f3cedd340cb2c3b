/**
 * tfjs's SIMD build over a shared heap: the rewrite of its module (memory imported, shared, same
 * limits; anything else refused), and the backend that `useBackend("wasm")` starts with it, its
 * kernel threads, tfjs's own kernels and heap growth on it. A file of its own: the wasm build
 * starts once per isolate.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { useBackend } from "../../lib/backend/backend.ts";
import { heapThreadsOf } from "../../lib/backend/heap_threads.ts";
import { tf } from "../../lib/backend/tf.ts";
import { sharedMemoryModule } from "../../lib/backend/wasm_shared_heap.ts";
import { geluSimdModuleBytes } from "../../lib/nn/gelu_simd.ts";

const tfjsWasm = join(
  dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm")),
  "tfjs-backend-wasm-simd.wasm",
);

Deno.test("tfjs's SIMD module with its memory imported as a shared env.memory", async () => {
  const original = await Deno.readFile(tfjsWasm);
  const rewritten = sharedMemoryModule(original);
  assert(rewritten, "the module was not recognised");
  assert(WebAssembly.validate(rewritten));
  const before = WebAssembly.Module.imports(new WebAssembly.Module(original));
  const after = WebAssembly.Module.imports(new WebAssembly.Module(rewritten));
  assert(!before.some((i) => i.kind === "memory"));
  assert.deepEqual(after.slice(0, -1), before, "the other imports are unchanged");
  assert.deepEqual(after.at(-1), { module: "env", name: "memory", kind: "memory" });
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(rewritten));
  assert.deepEqual(exports, WebAssembly.Module.exports(new WebAssembly.Module(original)));
  assert(exports.some((e) => e.name === "memory" && e.kind === "memory"));
  // Only a memory of the same limits, shared, satisfies the import.
  const stub = Object.fromEntries(before.map((i) => [i.name, () => 0]));
  const link = (memory: WebAssembly.Memory) =>
    new WebAssembly.Instance(new WebAssembly.Module(rewritten), {
      env: { ...stub, memory },
      wasi_snapshot_preview1: stub,
    });
  assert.throws(() => link(new WebAssembly.Memory({ initial: 256, maximum: 65536 })));
  link(new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true }));
});

Deno.test("modules other than tfjs's are left alone", () => {
  assert.equal(sharedMemoryModule(geluSimdModuleBytes()), undefined, "imports its memory already");
  assert.equal(sharedMemoryModule(new Uint8Array([1, 2, 3])), undefined);
  // A memory of other limits (one page, at most two).
  const small = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 1, 1, 2]);
  assert(WebAssembly.validate(small));
  assert.equal(sharedMemoryModule(small), undefined);
});

Deno.test("the wasm backend starts over a shared heap with kernel threads, and tfjs works on it", async () => {
  const cores = navigator.hardwareConcurrency ?? 1;
  const setting = Deno.env.get("MOPEFT_KERNEL_THREADS");
  const choice = await useBackend("wasm");
  const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } })
    .wasm.asm.memory;
  if (cores < 2 || (setting !== undefined && setting !== "")) {
    console.warn(`one core or MOPEFT_KERNEL_THREADS set: the shared heap is not checked here`);
    return;
  }
  assert(memory.buffer instanceof SharedArrayBuffer, "the heap is not shared");
  assert.equal(heapThreadsOf(memory)?.threads, Math.min(cores, 8));
  assert.match(choice.reason, /\d kernel threads/);
  // tfjs's own kernels, native products and a heap that grows by 600 MiB, in place.
  const a = tf.tidy(() => tf.range(0, 64 * 64).reshape([64, 64]).div(4096));
  const product = tf.matMul(a, a, false, true);
  const expected = tf.sum(tf.mul(a.slice([3, 0], [1, 64]), a.slice([5, 0], [1, 64])));
  assert(Math.abs((await product.data())[3 * 64 + 5]! - (await expected.data())[0]!) < 1e-5);
  const sizeBefore = memory.buffer.byteLength;
  const big = tf.fill([150, 1024, 1024], 2);
  assert(memory.buffer.byteLength > sizeBefore + 500 * 2 ** 20, "the heap did not grow");
  assert.equal((await tf.sum(big.slice([149, 1023, 1000], [1, 1, 24])).data())[0], 48);
  assert.equal(
    (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory,
    memory,
  );
  tf.dispose([a, product, expected, big]);
});

Deno.test("MOPEFT_KERNEL_THREADS=off starts tfjs on its own heap", async () => {
  const script = `
    import { useBackend } from "./lib/backend/backend.ts";
    import { tf } from "./lib/backend/tf.ts";
    const choice = await useBackend("wasm");
    const memory = tf.backend().wasm.asm.memory;
    console.log(JSON.stringify({ shared: memory.buffer instanceof SharedArrayBuffer, reason: choice.reason }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", script],
    cwd: new URL("../..", import.meta.url),
    env: { MOPEFT_KERNEL_THREADS: "off" },
    stderr: "inherit",
  }).output();
  assert(output.success);
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(result.shared, false);
  assert(!/kernel threads/.test(result.reason), result.reason);
});
