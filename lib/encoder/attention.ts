/**
 * The image encoder's multi-head self-attention with decomposed relative positions.
 *
 * Three implementations give the same result and gradients; `attentionPathFor` (in
 * `chunked_attention.ts`) picks one per window size and backend:
 * - plain: the whole `[N, heads, T, L + T]` logits as a few large tfjs ops. Used below
 *   `CHUNKED_ATTENTION_MIN_TOKENS` tokens per window (the 14 x 14 windows, and global blocks
 *   below 512 px), where that tensor is small and few large ops are fastest.
 * - chunked (`chunked_attention.ts`): tfjs ops over one block of query rows at a time, with a
 *   recomputing gradient. Used for large windows on cpu and wasm, where the plain path's logits
 *   (805 MB per vit_b global block at 1024 px) would overflow wasm's 32-bit heap.
 * - fused (`webgpu_attention.ts`): FlashAttention-style WGSL kernels, O(B·T·d) memory, one
 *   kernel for forward and two for backward. Used for large windows on webgpu, where the chunked
 *   path would cost many small dispatches per block and the plain one gigabytes of GPU memory.
 *
 * @module
 */
import { type Tensor, type Tensor3D, type Tensor4D, tf } from "../backend/tf.ts";
import { matMul } from "../nn/matmul.ts";
import { leanAdd, leanConcat, leanReshape, leanScaledMatMul } from "../nn/lean_ops.ts";
import { linear } from "../nn/linear.ts";
import { relativeBiases } from "./relative_position.ts";
import { biasedSoftmax } from "./biased_softmax.ts";
import {
  attentionPathFor,
  chunkedAttention,
  type ChunkedAttentionInputs,
} from "./chunked_attention.ts";
import { fusedAttention } from "./webgpu_attention.ts";
import type { BlockExtension } from "./block_hooks.ts";

/** The tensors of one attention layer, in PyTorch's layout. */
export interface AttentionWeights {
  qkvWeight: Tensor; // [3D, D]
  qkvBias: Tensor; // [3D]
  projWeight: Tensor; // [D, D]
  projBias: Tensor; // [D]
  relPosH: Tensor; // [2h-1, headDim]
  relPosW: Tensor; // [2w-1, headDim]
}

function splitHeads(x: Tensor, heads: number): Tensor {
  const [n, tokens, width] = x.shape as [number, number, number];
  return leanReshape(x, [n, tokens, heads, width / heads]).transpose([0, 2, 1, 3]); // [N, heads, T, hd]
}

/**
 * Attention over `[N, h, w, D]` windows (N = batch * windowsPerImage).
 *
 * @param windowsPerImage windows per image, to broadcast per-image prefixes and scales.
 */
export function encoderAttention(
  x: Tensor4D,
  weights: AttentionWeights,
  numHeads: number,
  windowsPerImage: number,
  extension?: BlockExtension,
): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, width] = x.shape;
    const tokens = h * w;
    const headDim = width / numHeads;
    // Lean reshapes here and at the end: tfjs's would keep the windows and the projection's
    // output for the backward pass (14 MiB each per vit_b block at 1024 px) only for their shapes.
    const flat = leanReshape(x, [n, tokens, width]) as Tensor3D;
    const qkv = linear(flat, weights.qkvWeight, weights.qkvBias); // [N, T, 3D]
    let [query, key, value] = tf.split(qkv, 3, 2) as [Tensor, Tensor, Tensor]; // [N, T, D] each
    const delta = extension?.queryValueDelta?.(flat, windowsPerImage);
    if (delta?.query) query = leanAdd(query, delta.query);
    if (delta?.value) value = leanAdd(value, delta.value);

    const q = splitHeads(query, numHeads); // [N, heads, T, hd]
    const k = splitHeads(key, numHeads);
    const v = splitHeads(value, numHeads);
    // Every window of an image attends to that image's prefixes: repeat them per window (by
    // concatenation: tfjs-backend-wasm's Tile runs at about 80 ns per element).
    const perWindow = (p: Tensor3D) => {
      const [batch, length] = p.shape;
      const repeated = windowsPerImage === 1
        ? p
        : tf.concat(new Array<Tensor>(windowsPerImage).fill(p.expandDims(1)), 1).reshape([
          batch * windowsPerImage,
          length,
          width,
        ]);
      return splitHeads(repeated, numHeads); // [N, heads, L, hd]
    };
    const prefix = extension?.prefix;
    const prefixKeys = prefix && perWindow(prefix.keys);
    const prefixValues = prefix && perWindow(prefix.values);

    let out: Tensor; // [N, heads, T, hd]
    const { path, queryBlock } = attentionPathFor(tokens);
    if (path !== "plain") {
      // Large windows (global blocks from 512 px on): never hold the [T, T] logits, or at most
      // one block of query rows of them, in forward or backward.
      const heads: ChunkedAttentionInputs = {
        query: q,
        key: k,
        value: v,
        relPosH: weights.relPosH,
        relPosW: weights.relPosW,
        prefixKeys,
        prefixValues,
      };
      out = path === "fused"
        ? fusedAttention(heads, { size: [h, w] })
        : chunkedAttention(heads, { size: [h, w], queryBlock });
    } else {
      const scale = 1 / Math.sqrt(headDim);
      // Prefix logits first, without relative terms: [N, heads, T, L+T], in one product with the
      // keys stacked (a concatenation of the logits along their last axis, and its gradient's
      // split, are strided copies of the largest tensor here: 0.5 s of a vit_b MoPEFT step).
      const logits = leanScaledMatMul(q, prefixKeys ? leanConcat([prefixKeys, k], 2) : k, scale);
      const total = logits.shape[3]!;
      const rows = n * numHeads * tokens;
      const [biasH, biasW] = relativeBiases(
        q.reshape([n * numHeads, tokens, headDim]),
        weights.relPosH,
        weights.relPosW,
        [h, w],
      ); // [N*heads, T, h], [N*heads, T, w]
      const probabilities = leanReshape(
        biasedSoftmax(
          leanReshape(logits, [rows, total]),
          leanReshape(biasH, [rows, h]),
          leanReshape(biasW, [rows, w]),
          [h, w],
        ),
        [n, numHeads, tokens, total],
      );
      // One product with the values stacked the same way, instead of splitting the
      // probabilities (a strided copy of the largest tensor here) into two products.
      out = matMul(probabilities, prefixValues ? leanConcat([prefixValues, v], 2) : v);
    }
    const merged = leanReshape(out.transpose([0, 2, 1, 3]), [n, tokens, width]);
    return leanReshape(linear(merged, weights.projWeight, weights.projBias), [
      n,
      h,
      w,
      width,
    ]) as Tensor4D;
  });
}
