import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { type AttentionWeights, encoderAttention } from "../../lib/encoder/attention.ts";
import {
  attentionPathFor,
  CHUNKED_ATTENTION_MIN_TOKENS,
  chunkedAttention,
  type ChunkedAttentionInputs,
  setAttentionPath,
} from "../../lib/encoder/chunked_attention.ts";
import { loadCheckpoint } from "../../lib/encoder/checkpoint.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import { assertAllClose, availableBackends, onBackend, take } from "../_backends.ts";
import { plainAttention } from "./_plain_attention.ts";

const TOLERANCE = 1e-4;
// A non-square grid (T = 30) so that rows and columns of the relative terms cannot be confused.
const SIZE: [number, number] = [6, 5];
const [N, HEADS, HEAD_DIM, PREFIX] = [2, 2, 8, 3];

/** Random heads; `rel_pos_w` has 6 rows instead of 2 * 5 - 1, so it is interpolated. */
function randomInputs(withPrefix: boolean): ChunkedAttentionInputs {
  const [h, w] = SIZE;
  const heads = (seed: number, rows: number) =>
    tf.randomNormal([N, HEADS, rows, HEAD_DIM], 0, 1, "float32", seed);
  return {
    query: heads(1, h * w),
    key: heads(2, h * w),
    value: heads(3, h * w),
    relPosH: tf.randomNormal([2 * h - 1, HEAD_DIM], 0, 0.5, "float32", 4),
    relPosW: tf.randomNormal([6, HEAD_DIM], 0, 0.5, "float32", 5),
    ...(withPrefix ? { prefixKeys: heads(6, PREFIX), prefixValues: heads(7, PREFIX) } : {}),
  };
}

const NAMES = [
  "query",
  "key",
  "value",
  "relPosH",
  "relPosW",
  "prefixKeys",
  "prefixValues",
] as const;

/** Gradients of `sum(attention(inputs) * weighting)` w.r.t. every input, in {@link NAMES} order. */
function gradients(
  attention: (inputs: ChunkedAttentionInputs) => Tensor,
  inputs: ChunkedAttentionInputs,
  weighting: Tensor,
): Tensor[] {
  const given = NAMES.filter((name) => inputs[name] !== undefined);
  const tensors = given.map((name) => inputs[name]!);
  return tf.grads((...xs: Tensor[]) => {
    const rebuilt = Object.fromEntries(given.map((name, i) => [name, xs[i]!]));
    return tf.sum(tf.mul(attention(rebuilt as unknown as ChunkedAttentionInputs), weighting));
  })(tensors);
}

Deno.test("chunkedAttention() equals plain attention, with and without prefixes, for any block size", async () => {
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    for (const withPrefix of [false, true]) {
      const inputs = randomInputs(withPrefix);
      const expected = await take(plainAttention(inputs, SIZE));
      // 7 and 64 do not divide T = 30 (64 exceeds it); 10 does; 1 is one query per block.
      for (const queryBlock of [1, 7, 10, 30, 64]) {
        const out = chunkedAttention(inputs, { size: SIZE, queryBlock });
        assertEquals(out.shape, [N, HEADS, 30, HEAD_DIM]);
        assertAllClose(
          await take(out),
          expected,
          TOLERANCE,
          `${backend} prefix=${withPrefix} block=${queryBlock}`,
        );
      }
      tf.dispose(Object.values(inputs));
    }
  }
});

Deno.test("chunkedAttention() gradients w.r.t. q, k, v, rel-pos tables and prefixes equal the plain path's", async () => {
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    for (const withPrefix of [false, true]) {
      const inputs = randomInputs(withPrefix);
      const weighting = tf.randomNormal([N, HEADS, 30, HEAD_DIM], 0, 1, "float32", 8);
      const expected = gradients((x) => plainAttention(x, SIZE), inputs, weighting);
      for (const queryBlock of [7, 30]) {
        const actual = gradients(
          (x) => chunkedAttention(x, { size: SIZE, queryBlock }),
          inputs,
          weighting,
        );
        assertEquals(actual.length, withPrefix ? 7 : 5);
        for (let i = 0; i < actual.length; i++) {
          assertEquals(actual[i]!.shape, expected[i]!.shape);
          assertAllClose(
            await take(actual[i]!),
            await expected[i]!.data(),
            TOLERANCE,
            `${backend} prefix=${withPrefix} block=${queryBlock} d${NAMES[i]}`,
          );
        }
      }
      tf.dispose([...expected, weighting, ...Object.values(inputs)]);
    }
  }
});

Deno.test("chunkedAttention() leaves no tensors behind after forward and backward", async () => {
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    const inputs = randomInputs(true);
    const weighting = tf.onesLike(inputs.query);
    const run = () => {
      tf.dispose(chunkedAttention(inputs, { size: SIZE, queryBlock: 7 }));
      tf.dispose(
        gradients((x) => chunkedAttention(x, { size: SIZE, queryBlock: 7 }), inputs, weighting),
      );
    };
    run(); // fills the per-backend cache of relative-position selection matrices
    const before = tf.memory().numTensors;
    run();
    assertEquals(tf.memory().numTensors, before, `${backend}: tensors left behind`);
    tf.dispose([weighting, ...Object.values(inputs)]);
  }
});

Deno.test("attentionPathFor() chunks from CHUNKED_ATTENTION_MIN_TOKENS tokens on (off webgpu), unless forced", () => {
  assertEquals(attentionPathFor(CHUNKED_ATTENTION_MIN_TOKENS, "wasm").path, "chunked");
  assertEquals(attentionPathFor(CHUNKED_ATTENTION_MIN_TOKENS, "cpu").path, "chunked");
  assertEquals(attentionPathFor(CHUNKED_ATTENTION_MIN_TOKENS - 1, "wasm").path, "plain");
  const previous = setAttentionPath({ path: "chunked", queryBlock: 5 });
  try {
    assertEquals(attentionPathFor(4, "wasm"), { path: "chunked", queryBlock: 5 });
    assertEquals(attentionPathFor(4, "webgpu"), { path: "chunked", queryBlock: 5 });
    setAttentionPath({ path: "plain" });
    assertEquals(attentionPathFor(4096, "wasm").path, "plain");
  } finally {
    setAttentionPath(previous);
  }
  assertEquals(attentionPathFor(256, "wasm").path, "plain");
});

/** Runs `f` with the attention path forced, restoring the previous setting afterwards. */
function forced<T>(path: "plain" | "chunked", f: () => T, queryBlock = 7): T {
  const previous = setAttentionPath({ path, queryBlock });
  try {
    return f();
  } finally {
    setAttentionPath(previous);
  }
}

Deno.test("encoderAttention() on the forced chunked path matches the plain one: values and gradients of x, weights, rel-pos and prefixes", async () => {
  const width = 16; // 2 heads of 8
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    // windowsPerImage 1 (a global block) and 2 (two windows per image share the prefixes).
    for (const windowsPerImage of [1, 2]) {
      const random = (shape: number[], seed: number, std = 0.3) =>
        tf.randomNormal(shape, 0, std, "float32", seed);
      const x = random([2 * windowsPerImage, 6, 5, width], 11, 1) as Tensor4D;
      const weights: AttentionWeights = {
        qkvWeight: random([3 * width, width], 12),
        qkvBias: random([3 * width], 13),
        projWeight: random([width, width], 14),
        projBias: random([width], 15),
        relPosH: random([11, width / 2], 16),
        relPosW: random([9, width / 2], 17),
      };
      const prefixKeys = random([2, PREFIX, width], 18, 1) as Tensor3D;
      const prefixValues = random([2, PREFIX, width], 19, 1) as Tensor3D;
      const all = [x, ...Object.values(weights), prefixKeys, prefixValues];
      const attend = (...xs: Tensor[]) => {
        const [input, qkvWeight, qkvBias, projWeight, projBias, relPosH, relPosW, keys, values] =
          xs as [Tensor4D, ...Tensor[]];
        return encoderAttention(
          input,
          { qkvWeight, qkvBias, projWeight, projBias, relPosH, relPosW } as AttentionWeights,
          2,
          windowsPerImage,
          { prefix: { keys: keys as Tensor3D, values: values as Tensor3D } },
        );
      };
      const weighting = random(x.shape, 20, 1);
      const loss = (...xs: Tensor[]) => tf.sum(tf.mul(attend(...xs), weighting));
      const plainOut = await take(forced("plain", () => attend(...all)));
      const chunkedOut = await take(forced("chunked", () => attend(...all)));
      assertAllClose(chunkedOut, plainOut, TOLERANCE, `${backend} windows=${windowsPerImage} out`);
      const plainGrads = forced("plain", () => tf.grads(loss)(all));
      const chunkedGrads = forced("chunked", () => tf.grads(loss)(all));
      const names = ["x", "qkvWeight", "qkvBias", "projWeight", "projBias", "relPosH", "relPosW"];
      names.push("prefixKeys", "prefixValues");
      for (let i = 0; i < all.length; i++) {
        assertAllClose(
          await take(chunkedGrads[i]!),
          await take(plainGrads[i]!),
          TOLERANCE,
          `${backend} windows=${windowsPerImage} d${names[i]}`,
        );
      }
      tf.dispose([...all, weighting]);
    }
  }
});

Deno.test("SAM tiny_a through the forced chunked path still matches the official image embeddings", async () => {
  const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
  const expected = await readSafetensors(`${fixtures}goldens/tiny_a_wide.safetensors`);
  const preprocessed = expected.get("preprocessed")!;
  for (const backend of await availableBackends()) {
    await onBackend(backend);
    const weights = await loadCheckpoint(`${fixtures}sam/tiny_a.safetensors`);
    const embeddings = forced("chunked", () =>
      tf.tidy(() => {
        const input = tf.tensor4d(
          preprocessed.data,
          preprocessed.shape as [number, number, number, number],
        ).transpose([0, 2, 3, 1]) as Tensor4D;
        return encodeImage(weights, input).transpose([0, 3, 1, 2]);
      }), 100); // 100 divides neither the global blocks' 256 tokens nor the 14x14 windows' 196
    assertAllClose(
      await take(embeddings),
      expected.get("image_embeddings")!.data,
      TOLERANCE,
      `${backend} image_embeddings`,
    );
    weights.dispose();
  }
});
