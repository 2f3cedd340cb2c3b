/**
 * The fused WGSL attention kernels against plain tfjs attention on the cpu backend (references on
 * cpu: llvmpipe compiles tfjs's own large kernels slowly, and cpu is the simplest reference).
 *
 * These tests need a WebGPU adapter (llvmpipe will do) and fail when there is none, unless
 * MOPEFT_TEST_WEBGPU=0 opts out of webgpu, as in tests/_backends.ts.
 */
import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { matMul } from "../../lib/nn/matmul.ts";
import { type AttentionWeights, encoderAttention } from "../../lib/encoder/attention.ts";
import {
  attentionPathFor,
  type ChunkedAttentionInputs,
  setAttentionPath,
} from "../../lib/encoder/chunked_attention.ts";
import {
  type BiasedAttentionInputs,
  fusedAttention,
  fusedAttentionWithBiases,
} from "../../lib/encoder/webgpu_attention.ts";
import { assertAllClose, onBackend, take } from "../_backends.ts";
import { plainAttention } from "./_plain_attention.ts";

const TOLERANCE = 1e-4;
const WEBGPU_WANTED = Deno.env.get("MOPEFT_TEST_WEBGPU") !== "0";

/** A test on the webgpu backend; `onBackend` throws when no adapter is found. */
function webgpuTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: !WEBGPU_WANTED,
    fn: async () => {
      await onBackend("webgpu");
      await fn();
    },
  });
}

/** Host copies of random tensors, to be made on whichever backend is active. */
type HostTensors = Record<string, { values: Float32Array; shape: number[] }>;

async function randomHost(
  shapes: Record<string, number[]>,
  { std = 1, firstSeed = 1 } = {},
): Promise<HostTensors> {
  await onBackend("cpu");
  const host: HostTensors = {};
  let seed = firstSeed;
  for (const [name, shape] of Object.entries(shapes)) {
    const values = await take(tf.randomNormal(shape, 0, std, "float32", seed++));
    host[name] = { values, shape };
  }
  return host;
}

function onDevice(host: HostTensors): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(host).map(([name, { values, shape }]) => [name, tf.tensor(values, shape)]),
  );
}

/** `f`'s value and gradients of `sum(f(x) * weighting)` w.r.t. every tensor in `x`, read back. */
async function valueAndGrads(
  f: (x: Record<string, Tensor>) => Tensor,
  host: HostTensors,
  weighting: HostTensors[string],
): Promise<{ value: Float32Array; grads: Record<string, Float32Array> }> {
  const x = onDevice(host);
  const names = Object.keys(x);
  const weights = tf.tensor(weighting.values, weighting.shape);
  const value = await take(f(x));
  const gradients = tf.grads((...xs: Tensor[]) => {
    const rebuilt = Object.fromEntries(names.map((name, i) => [name, xs[i]!]));
    return tf.sum(tf.mul(f(rebuilt), weights));
  })(names.map((name) => x[name]!));
  const grads: Record<string, Float32Array> = {};
  for (let i = 0; i < names.length; i++) grads[names[i]!] = await take(gradients[i]!);
  tf.dispose([weights, ...Object.values(x)]);
  return { value, grads };
}

function assertSameValueAndGrads(
  actual: Awaited<ReturnType<typeof valueAndGrads>>,
  expected: Awaited<ReturnType<typeof valueAndGrads>>,
  what: string,
): void {
  assertAllClose(actual.value, expected.value, TOLERANCE, `${what} value`);
  assertEquals(Object.keys(actual.grads), Object.keys(expected.grads));
  for (const name of Object.keys(expected.grads)) {
    assertAllClose(actual.grads[name]!, expected.grads[name]!, TOLERANCE, `${what} d${name}`);
  }
}

/** Attention with additive biases as plain tfjs ops: the reference for the kernels. */
function plainBiasedAttention(x: BiasedAttentionInputs, [h, w]: [number, number]): Tensor {
  return tf.tidy(() => {
    const { query, key, value, biasH, biasW, prefixKeys, prefixValues } = x;
    const [batch, tokens, headDim] = query.shape as [number, number, number];
    const scaled = tf.mul(query, 1 / Math.sqrt(headDim));
    const logits = tf.add(
      tf.add(
        matMul(scaled, key, false, true).reshape([batch, tokens, h, w]),
        biasH.reshape([batch, tokens, h, 1]),
      ),
      biasW.reshape([batch, tokens, 1, w]),
    ).reshape([batch, tokens, tokens]);
    if (!prefixKeys || !prefixValues) return matMul(tf.softmax(logits), value);
    const prefixLogits = matMul(scaled, prefixKeys, false, true); // [B, T, L]
    const p = tf.softmax(tf.concat([prefixLogits, logits], 2));
    const [toPrefix, toTokens] = tf.split(p, [prefixKeys.shape[1]!, tokens], 2);
    return tf.add(matMul(toPrefix!, prefixValues), matMul(toTokens!, value));
  });
}

const BIASED_CASES = [
  // A head dim that is no multiple of 4 (the tiles pad it to whole vec4s), without prefixes;
  // T = 72 takes two workgroups of 64 query rows (or keys).
  { headDim: 6, size: [9, 8] as [number, number], prefix: 0, batch: 2 },
  // vit_b's head dim, with prefixes; T = 21 fills no tile exactly.
  { headDim: 64, size: [3, 7] as [number, number], prefix: 2, batch: 2 },
];

webgpuTest(
  "fusedAttentionWithBiases() equals plain attention in value and in the gradients of q, k, v, both biases and the prefixes",
  async () => {
    for (const { headDim, size, prefix, batch } of BIASED_CASES) {
      const [h, w] = size;
      const tokens = h * w;
      const host = await randomHost({
        query: [batch, tokens, headDim],
        key: [batch, tokens, headDim],
        value: [batch, tokens, headDim],
        biasH: [batch, tokens, h],
        biasW: [batch, tokens, w],
        ...(prefix
          ? { prefixKeys: [batch, prefix, headDim], prefixValues: [batch, prefix, headDim] }
          : {}),
      });
      const { weighting } = await randomHost({ weighting: [batch, tokens, headDim] }, {
        firstSeed: 100,
      });
      const attend = (f: typeof plainBiasedAttention) => (x: Record<string, Tensor>) =>
        f(x as unknown as BiasedAttentionInputs, size);
      await onBackend("cpu");
      const expected = await valueAndGrads(attend(plainBiasedAttention), host, weighting!);
      await onBackend("webgpu");
      const actual = await valueAndGrads(
        attend((x, size) => fusedAttentionWithBiases(x, { size })),
        host,
        weighting!,
      );
      assertSameValueAndGrads(actual, expected, `headDim=${headDim} prefix=${prefix}`);
    }
  },
);

// The chunked test's shapes: a non-square grid (T = 30, no multiple of a tile), rel_pos_w with
// 6 rows instead of 2 * 5 - 1 so that it is interpolated.
const SIZE: [number, number] = [6, 5];
const [N, HEADS, HEAD_DIM, PREFIX] = [2, 2, 8, 3];

function headShapes(withPrefix: boolean): Record<string, number[]> {
  const tokens = SIZE[0] * SIZE[1];
  return {
    query: [N, HEADS, tokens, HEAD_DIM],
    key: [N, HEADS, tokens, HEAD_DIM],
    value: [N, HEADS, tokens, HEAD_DIM],
    relPosH: [2 * SIZE[0] - 1, HEAD_DIM],
    relPosW: [6, HEAD_DIM],
    ...(withPrefix
      ? { prefixKeys: [N, HEADS, PREFIX, HEAD_DIM], prefixValues: [N, HEADS, PREFIX, HEAD_DIM] }
      : {}),
  };
}

webgpuTest(
  "fusedAttention() equals plain attention in value and in the gradients of q, k, v, both rel-pos tables and the prefixes",
  async () => {
    for (const withPrefix of [false, true]) {
      const host = await randomHost(headShapes(withPrefix));
      const { weighting } = await randomHost(
        { weighting: [N, HEADS, SIZE[0] * SIZE[1], HEAD_DIM] },
        { firstSeed: 100 },
      );
      const attend = (f: typeof plainAttention) => (x: Record<string, Tensor>) =>
        f(x as unknown as ChunkedAttentionInputs, SIZE);
      await onBackend("cpu");
      const expected = await valueAndGrads(attend(plainAttention), host, weighting!);
      await onBackend("webgpu");
      const actual = await valueAndGrads(
        attend((x, size) => fusedAttention(x, { size })),
        host,
        weighting!,
      );
      assertSameValueAndGrads(actual, expected, `prefix=${withPrefix}`);
    }
  },
);

webgpuTest("fusedAttention() leaves no tensors behind after forward and backward", async () => {
  const host = await randomHost(headShapes(true));
  await onBackend("webgpu");
  const x = onDevice(host) as unknown as ChunkedAttentionInputs;
  const tensors = Object.values(x) as Tensor[];
  const run = () => {
    tf.dispose(fusedAttention(x, { size: SIZE }));
    tf.dispose(
      tf.grads((...xs: Tensor[]) =>
        tf.sum(
          fusedAttention({
            ...x,
            query: xs[0]!,
            key: xs[1]!,
            value: xs[2]!,
            prefixKeys: xs[3]!,
            prefixValues: xs[4]!,
          }, { size: SIZE }),
        )
      )([x.query, x.key, x.value, x.prefixKeys!, x.prefixValues!]),
    );
  };
  run(); // fills the per-backend cache of relative-position selection matrices
  const before = tf.memory().numTensors;
  run();
  assertEquals(tf.memory().numTensors, before, "tensors left behind");
  tf.dispose(tensors);
});

Deno.test("fusedAttention() refuses to run on a backend other than webgpu", async () => {
  await onBackend("cpu");
  const q = tf.zeros([1, 1, 4, 4]);
  const tables = { relPosH: tf.zeros([3, 4]), relPosW: tf.zeros([3, 4]) };
  assertThrows(
    () => fusedAttention({ query: q, key: q, value: q, ...tables }, { size: [2, 2] }),
    /webgpu backend only, not on cpu/,
  );
  tf.dispose([q, ...Object.values(tables)]);
});

Deno.test("attentionPathFor() takes the fused kernels for large windows on webgpu only", () => {
  assertEquals(attentionPathFor(4096, "webgpu").path, "fused");
  assertEquals(attentionPathFor(4096, "wasm").path, "chunked");
  assertEquals(attentionPathFor(196, "webgpu").path, "plain");
  const previous = setAttentionPath({ path: "fused" });
  try {
    assertEquals(attentionPathFor(4, "webgpu").path, "fused");
  } finally {
    setAttentionPath(previous);
  }
});

/** Runs `f` with the attention path forced, restoring the previous setting afterwards. */
async function forced<T>(path: "plain" | "fused", f: () => Promise<T>): Promise<T> {
  const previous = setAttentionPath({ path });
  try {
    return await f();
  } finally {
    setAttentionPath(previous);
  }
}

webgpuTest(
  "encoderAttention() on the forced fused path matches the plain one: values and gradients of x, weights, rel-pos and prefixes",
  async () => {
    const width = 16; // 2 heads of 8
    const windowsPerImage = 2; // two windows per image share the image's prefixes
    const host = await randomHost({
      x: [2 * windowsPerImage, 6, 5, width],
      qkvWeight: [3 * width, width],
      qkvBias: [3 * width],
      projWeight: [width, width],
      projBias: [width],
      relPosH: [11, width / 2],
      relPosW: [9, width / 2],
      prefixKeys: [2, PREFIX, width],
      prefixValues: [2, PREFIX, width],
    }, { std: 0.5 });
    const { weighting } = await randomHost({ weighting: host.x!.shape }, { firstSeed: 100 });
    const attend = (x: Record<string, Tensor>) => {
      const { x: input, prefixKeys, prefixValues, ...weights } = x;
      return encoderAttention(
        input as Tensor4D,
        weights as unknown as AttentionWeights,
        2,
        windowsPerImage,
        { prefix: { keys: prefixKeys as Tensor3D, values: prefixValues as Tensor3D } },
      );
    };
    await onBackend("cpu");
    const expected = await forced("plain", () => valueAndGrads(attend, host, weighting!));
    await onBackend("webgpu");
    const actual = await forced("fused", () => valueAndGrads(attend, host, weighting!));
    assertSameValueAndGrads(actual, expected, "encoderAttention");
  },
);
