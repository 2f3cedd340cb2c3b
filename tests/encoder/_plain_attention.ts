/**
 * Test helper: the plain path of `encoderAttention` on `[N, heads, T, hd]` heads, the reference
 * for the chunked (cpu/wasm) and fused (webgpu) attention.
 *
 * @module
 */
import { type Tensor, tf } from "../../lib/backend/tf.ts";
import { matMul } from "../../lib/nn/matmul.ts";
import type { ChunkedAttentionInputs } from "../../lib/encoder/chunked_attention.ts";
import { relativeBiases } from "../../lib/encoder/relative_position.ts";

/** `logits` `[N, h*w, h*w]` plus the decomposed relative-position terms, by plain tfjs adds. */
function addRelativePosition(
  logits: Tensor,
  queries: Tensor,
  tableH: Tensor,
  tableW: Tensor,
  [h, w]: [number, number],
): Tensor {
  return tf.tidy(() => {
    const n = queries.shape[0]!;
    const [relH, relW] = relativeBiases(queries, tableH, tableW, [h, w]);
    return tf.add(
      tf.add(logits.reshape([n, h, w, h, w]), relH.reshape([n, h, w, h, 1])),
      relW.reshape([n, h, w, 1, w]),
    ).reshape([n, h * w, h * w]);
  });
}

/** Attention with decomposed relative positions and optional prefixes, by plain tfjs ops. */
export function plainAttention(inputs: ChunkedAttentionInputs, size: [number, number]): Tensor {
  return tf.tidy(() => {
    const { query, key, value, relPosH, relPosW, prefixKeys, prefixValues } = inputs;
    const [n, heads, tokens, headDim] = query.shape as [number, number, number, number];
    const scaled = tf.mul(query, 1 / Math.sqrt(headDim));
    const logits = addRelativePosition(
      matMul(scaled, key, false, true).reshape([n * heads, tokens, tokens]),
      query.reshape([n * heads, tokens, headDim]),
      relPosH,
      relPosW,
      size,
    ).reshape([n, heads, tokens, tokens]);
    if (!prefixKeys || !prefixValues) return matMul(tf.softmax(logits), value);
    const prefixLogits = matMul(scaled, prefixKeys, false, true); // [N, heads, T, L]
    const p = tf.softmax(tf.concat([prefixLogits, logits], 3));
    const [toPrefix, toTokens] = tf.split(p, [prefixKeys.shape[2]!, tokens], 3);
    return tf.add(matMul(toPrefix!, prefixValues), matMul(toTokens!, value));
  });
}
