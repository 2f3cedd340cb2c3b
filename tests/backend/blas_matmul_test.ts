import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { blasRequestFromEnv, openBlas } from "../../lib/backend/blas.ts";
import {
  blasFor,
  type HostBackendName,
  installBlasMatMul,
  uninstallBlasMatMul,
} from "../../lib/backend/blas_matmul.ts";
import { heapThreadsOf } from "../../lib/backend/heap_threads.ts";
import { wasmHeapOf } from "../../lib/backend/wasm_heap_module.ts";
import { maxAbsDiff, onBackend } from "../_backends.ts";

// The CI machine installs OpenBLAS (libopenblas0-pthread); elsewhere these tests are skipped.
const { blas } = openBlas({ kind: "search" });

/** A product case: operand shapes, transposes and an optional bias shape. */
interface Case {
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: number[];
  /** tfjs's own BatchMatMul gradient rejects broadcast batch axes: compare the product only. */
  forwardOnly?: boolean;
}

const CASES: Case[] = [
  { a: [5, 7], b: [7, 3] },
  { a: [7, 5], b: [7, 3], transposeA: true },
  { a: [5, 7], b: [3, 7], transposeB: true },
  { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { a: [4, 5, 7], b: [4, 7, 3] },
  { a: [2, 3, 6, 4], b: [2, 3, 5, 4], transposeB: true }, // attention logits
  { a: [2, 1, 5, 7], b: [1, 3, 7, 3], forwardOnly: true }, // batch axes broadcast both ways
  { a: [3, 5, 7], b: [1, 7, 3], forwardOnly: true },
  { a: [5, 0], b: [0, 3], forwardOnly: true }, // an empty inner axis gives zeros
  { a: [0, 7], b: [7, 3] },
  { a: [5, 7], b: [3, 7], transposeB: true, bias: [3] }, // a linear layer
  { a: [4, 5, 7], b: [4, 7, 3], bias: [] },
  { a: [4, 5, 7], b: [4, 7, 3], bias: [1] },
];

function operands(test: Case, seed: number) {
  return {
    a: tf.randomNormal(test.a, 0, 1, "float32", seed) as tf.Tensor,
    b: tf.randomNormal(test.b, 0, 1, "float32", seed + 1) as tf.Tensor,
    bias: test.bias && tf.randomNormal(test.bias, 0, 1, "float32", seed + 2) as tf.Tensor,
  };
}

function product(
  test: Case,
  a: tf.Tensor,
  b: tf.Tensor,
  bias?: tf.Tensor,
  reference = false,
): tf.Tensor {
  const { transposeA = false, transposeB = false } = test;
  if (!bias) return tf.matMul(a, b, transposeA, transposeB);
  // tfjs 4.22's own wasm _FusedMatMul gets rows after the first wrong with transposeB and a bias:
  // the reference adds the bias separately.
  if (reference) return tf.add(tf.matMul(a, b, transposeA, transposeB), bias);
  return tf.fused.matMul({
    a: a as tf.Tensor3D,
    b: b as tf.Tensor3D,
    transposeA,
    transposeB,
    bias,
  });
}

/**
 * The product and its gradients with respect to every operand, as plain arrays. As the
 * `reference`, it avoids what tfjs's own kernels get wrong (broadcast batch axes, empty inner
 * axes, fused biases).
 */
function productAndGradients(test: Case, seed: number, reference = false): number[][] {
  return tf.tidy(() => {
    let { a, b, bias } = operands(test, seed);
    const inputs = bias ? [a, b, bias] : [a, b];
    if (test.forwardOnly) {
      if (reference) {
        const batch = tf.broadcast_util.assertAndGetBroadcastShape(
          a.shape.slice(0, -2),
          b.shape.slice(0, -2),
        );
        a = tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]);
        b = tf.broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
      }
      // tfjs's wasm kernel leaves an empty inner axis's output uninitialised: zeros are right.
      const emptyInner = a.shape.includes(0) && b.shape.includes(0);
      const out = reference && emptyInner
        ? tf.zeros([a.shape[0]!, b.shape[1]!])
        : product(test, a, b, bias);
      return [[...out.dataSync()]];
    }
    const f = (...xs: tf.Tensor[]) =>
      tf.sum(tf.square(product(test, xs[0]!, xs[1]!, xs[2], reference)));
    const gradients = tf.grads(f)(inputs);
    return [product(test, a, b, bias, reference), ...gradients].map((t) => [...t.dataSync()]);
  });
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assertEquals(actual.length, expected.length, `${what}: lengths`);
  for (let i = 0; i < actual.length; i++) {
    const tolerance = 1e-4 * Math.max(1, Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance)) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

for (const backend of ["wasm", "cpu"] as HostBackendName[]) {
  Deno.test({
    name: `blas matmul on ${backend}: products and gradients equal tfjs's own kernels`,
    ignore: !blas,
    fn: async () => {
      await onBackend(backend);
      installBlasMatMul(blas!, backend);
      try {
        CASES.forEach((test, index) => {
          const native = productAndGradients(test, 10 * index + 1);
          uninstallBlasMatMul(backend);
          const reference = productAndGradients(test, 10 * index + 1, true);
          installBlasMatMul(blas!, backend);
          const label = JSON.stringify(test);
          native.forEach((values, i) => assertClose(values, reference[i]!, `${label} output ${i}`));
        });
      } finally {
        installBlasMatMul(blas!, backend);
      }
    },
  });
}

Deno.test({
  name: "blas matmul: a fused activation falls back to tfjs's kernel and stays correct",
  ignore: !blas,
  fn: async () => {
    await onBackend("wasm");
    installBlasMatMul(blas!, "wasm");
    const [got, want] = tf.tidy(() => {
      const a = tf.randomNormal([6, 4], 0, 1, "float32", 1) as tf.Tensor2D;
      const b = tf.randomNormal([4, 5], 0, 1, "float32", 2) as tf.Tensor2D;
      const bias = tf.randomNormal([5], 0, 1, "float32", 3);
      return [
        [...tf.fused.matMul({ a, b, bias, activation: "relu" }).dataSync()],
        [...tf.relu(tf.add(tf.matMul(a, b), bias)).dataSync()],
      ];
    });
    assertClose(got, want, "relu(a·b + bias)");
    assertEquals(blasFor("wasm"), blas);
  },
});

Deno.test({
  name: "blas matmul: no tensors are left behind",
  ignore: !blas,
  fn: async () => {
    await onBackend("wasm");
    installBlasMatMul(blas!, "wasm");
    const a = tf.ones([3, 4, 5]);
    const b = tf.ones([3, 5, 2]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.matMul(a, b).dispose();
    assertEquals(tf.memory().numTensors, before);
    tf.dispose([a, b]);
  },
});

Deno.test("blas: MOPEFT_BLAS selects off, the default search or one library", () => {
  assertEquals(blasRequestFromEnv(undefined), { kind: "search" });
  assertEquals(blasRequestFromEnv(" auto "), { kind: "search" });
  assertEquals(blasRequestFromEnv("OFF"), { kind: "off" });
  assertEquals(blasRequestFromEnv("0"), { kind: "off" });
  assertEquals(blasRequestFromEnv("/opt/lib/libopenblas.so"), {
    kind: "path",
    path: "/opt/lib/libopenblas.so",
  });
  assertEquals(openBlas({ kind: "off" }).blas, undefined);
});

Deno.test("blas: a library named explicitly that cannot load is a one-line error", () => {
  let message = "";
  try {
    openBlas({ kind: "path", path: "/nonexistent/libopenblas.so" });
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message.startsWith("MOPEFT_BLAS=/nonexistent/libopenblas.so: "), true, message);
  assertEquals(message.includes("\n"), false);
});

Deno.test({
  name:
    "blas matmul: batches of small products are split over the kernel threads, as tfjs computes them",
  ignore: !blas,
  fn: async () => {
    await onBackend("wasm");
    const memory = wasmHeapOf(tf.backend());
    const threads = memory && heapThreadsOf(memory);
    if (!threads || !blas!.singleThreaded) {
      console.warn(
        "no kernel threads or no single-threaded OpenBLAS here: the split is not checked",
      );
      return;
    }
    installBlasMatMul(blas!, "wasm");
    const cases: Case[] = [
      // 40 entries of 96 x 64 x 32: 7.9 M multiply-adds, above MIN_SPLIT_BATCH.
      { a: [40, 96, 64], b: [40, 64, 32] },
      { a: [4, 10, 64, 96], b: [4, 10, 32, 64], transposeA: true, transposeB: true },
      { a: [40, 96, 64], b: [1, 64, 32], forwardOnly: true }, // one B for every entry
      { a: [40, 96, 64], b: [40, 64, 32], bias: [32] },
    ];
    try {
      // A small model's batch stays here: waking a worker would cost more than the products.
      const small = threads.workerParts;
      tf.tidy(() => tf.matMul(tf.ones([7, 33, 17]), tf.ones([7, 17, 9])).dataSync());
      assertEquals(threads.workerParts, small);
      cases.forEach((test, index) => {
        const before = threads.workerParts;
        const native = productAndGradients(test, 100 + index);
        assert(threads.workerParts > before, `${JSON.stringify(test)} was not split`);
        uninstallBlasMatMul("wasm");
        const reference = productAndGradients(test, 100 + index, true);
        installBlasMatMul(blas!, "wasm");
        // Sums of 64-96 terms of size ~10 that cancel: float32 rounding is relative to the terms.
        native.forEach((values, i) => {
          const expected = reference[i]!;
          let scale = 0;
          for (const value of expected) scale = Math.max(scale, Math.abs(value));
          const worst = maxAbsDiff(values, expected);
          assert(worst <= 2e-6 * scale, `case ${index} output ${i}: ${worst} of ${scale}`);
        });
      });
    } finally {
      installBlasMatMul(blas!, "wasm");
    }
  },
});
