/**
 * Memory-efficient encoder attention: the same result as the plain path in `attention.ts`, computed
 * one block of query rows at a time, with a gradient that recomputes each block instead of keeping
 * the attention matrix (in one pass over each block, from each row's max and sum kept by the
 * forward pass).
 *
 * A global block of vit_b at 1024 px has 12 heads of 4096 x 4096 logits per image (805 MB in
 * float32); the plain path materialises that several times over and keeps it for backward, which
 * overflows the wasm backend's 32-bit heap. Here at most one `[queryBlock, L + T]` block of logits
 * (and a few tensors of that size) exists at a time, in forward and in backward.
 *
 * The decomposed relative-position terms are split off first: `relH[b, i, ky]` and
 * `relW[b, i, kx]` are only `[B, T, h]` and `[B, T, w]` (small), are computed with ordinary,
 * autodiffed tfjs ops from the unscaled queries and the tables, and enter the custom-gradient
 * kernel as two additive biases. The kernel returns their gradients (row and column sums of the
 * logits' gradient), and tfjs carries those on to q and to `rel_pos_h` / `rel_pos_w`.
 *
 * This module also chooses the attention path (see {@link attentionPathFor}): large windows take
 * this chunked path on cpu and wasm, and on webgpu the fused WGSL kernels of
 * `webgpu_attention.ts`, which need no `[queryBlock, L + T]` buffers and far fewer dispatches.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { blasFor } from "../backend/blas_registry.ts";
import { matMul } from "../nn/matmul.ts";
import { biasedExp, biasedSoftmaxBackward, biasedSoftmaxWithStats } from "./biased_softmax.ts";
import { relativeBiases } from "./relative_position.ts";

/**
 * Windows with at least this many tokens take a memory-efficient path when the path is `"auto"`
 * (chunked, or fused on webgpu): global blocks at 512 px (32 x 32 = 1024 tokens) and above. Below
 * it the whole logits tensor is small and the plain path's few large ops are faster.
 */
export const CHUNKED_ATTENTION_MIN_TOKENS = 1024;

/**
 * Query rows per block by default. One `[512, 4096]` float32 block is 8 MB, and a backward step
 * holds about six of them; larger blocks gain little on wasm (the products are already large).
 */
export const DEFAULT_QUERY_BLOCK = 512;

/**
 * Which implementation `encoderAttention` uses: `"plain"` (the whole logits tensor), `"chunked"`
 * (this module: tfjs ops, one block of query rows at a time), `"fused"` (the WGSL kernels of
 * `webgpu_attention.ts`, webgpu only), or `"auto"`, which picks by tokens per window and backend.
 */
export type AttentionPath = "auto" | "plain" | "chunked" | "fused";

/** The process-wide choice read by `encoderAttention` (see {@link setAttentionPath}). */
export interface AttentionPathSetting {
  /**
   * `"auto"` (the default): from {@link CHUNKED_ATTENTION_MIN_TOKENS} tokens on, fused on webgpu
   * and chunked elsewhere; plain below.
   */
  path: AttentionPath;
  /** Query rows per block on the chunked path. */
  queryBlock: number;
}

let setting: AttentionPathSetting = { path: "auto", queryBlock: DEFAULT_QUERY_BLOCK };

/**
 * Forces the attention path (for tests and measurements: the encoder's callers have no option
 * for it, as the automatic choice is the right one for every real use). Returns the previous
 * setting so that a caller can restore it.
 *
 * @example
 * ```ts
 * const previous = setAttentionPath({ path: "chunked", queryBlock: 64 });
 * try {
 *   // ... run the encoder ...
 * } finally {
 *   setAttentionPath(previous);
 * }
 * ```
 */
export function setAttentionPath(next: Partial<AttentionPathSetting>): AttentionPathSetting {
  const queryBlock = next.queryBlock ?? setting.queryBlock;
  if (!Number.isInteger(queryBlock) || queryBlock < 1) {
    throw new RangeError(`queryBlock must be a positive integer, got ${queryBlock}`);
  }
  const previous = setting;
  setting = { path: next.path ?? setting.path, queryBlock };
  return previous;
}

/**
 * The path a window of `tokens` tokens takes under the current setting on `backend` (by default
 * the active one), and the query rows per block should it be the chunked path. A forced path is
 * taken as is: `"fused"` on a backend other than webgpu then fails in `fusedAttention`.
 *
 * @example
 * ```ts
 * attentionPathFor(4096, "wasm").path; // "chunked": a global block at 1024 px
 * attentionPathFor(4096, "webgpu").path; // "fused"
 * attentionPathFor(196, "webgpu").path; // "plain": a 14 x 14 window
 * ```
 */
export function attentionPathFor(
  tokens: number,
  backend: string = tf.getBackend(),
): { path: Exclude<AttentionPath, "auto">; queryBlock: number } {
  const { queryBlock } = setting;
  if (setting.path !== "auto") return { path: setting.path, queryBlock };
  if (tokens < CHUNKED_ATTENTION_MIN_TOKENS) return { path: "plain", queryBlock };
  return { path: backend === "webgpu" ? "fused" : "chunked", queryBlock };
}

/** The tensors {@link chunkedAttention} attends with. */
export interface ChunkedAttentionInputs {
  /** `[N, heads, T, headDim]` queries, unscaled (the relative terms use them as they are). */
  query: Tensor;
  /** `[N, heads, T, headDim]` keys. */
  key: Tensor;
  /** `[N, heads, T, headDim]` values. */
  value: Tensor;
  /** `rel_pos_h`, `[tableLength, headDim]` (resized by interpolation when not `2h - 1`). */
  relPosH: Tensor;
  /** `rel_pos_w`, `[tableLength, headDim]`. */
  relPosW: Tensor;
  /** Optional `[N, heads, L, headDim]` keys before the spatial ones, with no relative term. */
  prefixKeys?: Tensor;
  /** `[N, heads, L, headDim]` values for {@link prefixKeys}; given exactly when they are. */
  prefixValues?: Tensor;
}

/** Layout and blocking of {@link chunkedAttention}. */
export interface ChunkedAttentionOptions {
  /** `[h, w]`: the T = h * w tokens form this grid, row-major. */
  size: [number, number];
  /** Query rows per block (default {@link DEFAULT_QUERY_BLOCK}); need not divide T. */
  queryBlock?: number;
}

/**
 * `softmax([q·Pkᵀ, q·kᵀ + relH + relW] / ...) · [Pv; v]` per head, as SAM's attention computes it
 * (q scaled by `1/sqrt(headDim)` in the products, unscaled in the relative terms), never holding
 * more than one `[queryBlock, L + T]` block of logits; the gradient recomputes the blocks.
 *
 * @returns `[N, heads, T, headDim]`, before the heads are merged and projected.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * const q = tf.randomNormal([1, 2, 12, 4]); // [N, heads, T = 3 * 4, headDim]
 * const out = chunkedAttention(
 *   { query: q, key: q, value: q, relPosH: tf.zeros([5, 4]), relPosW: tf.zeros([7, 4]) },
 *   { size: [3, 4], queryBlock: 5 },
 * );
 * out.shape; // [1, 2, 12, 4]
 * ```
 */
export function chunkedAttention(
  inputs: ChunkedAttentionInputs,
  options: ChunkedAttentionOptions,
): Tensor {
  const { query, key, value, relPosH, relPosW, prefixKeys, prefixValues } = inputs;
  const [n, heads, tokens, headDim] = query.shape as [number, number, number, number];
  const [h, w] = options.size;
  const queryBlock = options.queryBlock ?? DEFAULT_QUERY_BLOCK;
  if (h * w !== tokens) {
    throw new RangeError(`chunkedAttention(): size [${h}, ${w}] does not hold ${tokens} tokens`);
  }
  if (!Number.isInteger(queryBlock) || queryBlock < 1) {
    throw new RangeError(
      `chunkedAttention(): queryBlock must be a positive integer, got ${queryBlock}`,
    );
  }
  if ((prefixKeys === undefined) !== (prefixValues === undefined)) {
    throw new TypeError("chunkedAttention(): give prefixKeys and prefixValues together");
  }
  return tf.tidy(() => {
    const batch = n * heads;
    const flat = (t: Tensor) => t.reshape([batch, -1, headDim]); // [N*heads, rows, hd]
    const q = flat(query); // [B, T, hd]
    const [biasH, biasW] = relativeBiases(q, relPosH, relPosW, [h, w]); // [B, T, h], [B, T, w]
    const core = attentionCore({
      scale: 1 / Math.sqrt(headDim),
      size: [h, w],
      queryBlock,
      hasPrefix: prefixKeys !== undefined,
    });
    const coreInputs = [q, flat(key), flat(value), biasH, biasW];
    if (prefixKeys && prefixValues) coreInputs.push(flat(prefixKeys), flat(prefixValues));
    return core(...coreInputs).reshape([n, heads, tokens, headDim]);
  });
}

interface CoreConfig {
  scale: number;
  size: [number, number];
  queryBlock: number;
  hasPrefix: boolean;
}

/** One (batch * head) entry's keys and values, prefixes first, in the layouts the products want. */
interface EntryOperands {
  keys: Tensor; // [L+T, hd]
  /** `keys` transposed, `[hd, L+T]`, where products with a transposed operand are slow. */
  keysT?: Tensor;
  values: Tensor; // [L+T, hd]
}

function row(t: Tensor, b: number): Tensor {
  const [, rows, cols] = t.shape as [number, number, number];
  return t.slice([b, 0, 0], [1, rows, cols]).reshape([rows, cols]);
}

function rows(t: Tensor, start: number, count: number): Tensor {
  return t.slice([start, 0], [count, t.shape[1]!]);
}

/**
 * The attention kernel over flattened heads, as a `tf.customGrad` op. Inputs: q, k, v
 * `[B, T, hd]` (q unscaled), biases `[B, T, h]` and `[B, T, w]`, and with `hasPrefix` prefix keys
 * and values `[B, L, hd]`. Output `[B, T, hd]`.
 */
function attentionCore(config: CoreConfig): (...inputs: Tensor[]) => Tensor {
  const { scale, size: [h, w], queryBlock, hasPrefix } = config;
  // A native BLAS (and the cpu backend) takes transposed operands at full speed.
  const explicitTransposes = tf.getBackend() === "wasm" && blasFor("wasm") === undefined;

  function operands(entry: Tensor[], b: number): EntryOperands {
    const [, k, v, , , prefixK, prefixV] = entry;
    const keys = hasPrefix ? tf.concat([row(prefixK!, b), row(k!, b)], 0) : row(k!, b);
    const values = hasPrefix ? tf.concat([row(prefixV!, b), row(v!, b)], 0) : row(v!, b);
    // Without a native BLAS, one explicit transpose per entry: XNNPACK is slow with transposeB.
    return { keys, keysT: explicitTransposes ? keys.transpose() : undefined, values };
  }

  /** Logits of one query block, `[r, L+T]`, from scaled queries `[r, hd]` (no biases yet). */
  function logitsOf(scaledQ: Tensor, { keys, keysT }: EntryOperands): Tensor {
    return keysT ? matMul(scaledQ, keysT) : matMul(scaledQ, keys, false, true);
  }

  /**
   * The output `[B, T, hd]` and each query row's softmax statistics `[B, T, 2]` (its max and
   * 1 / sum), from which the backward pass recomputes the probabilities in one pass.
   */
  function forward(inputs: Tensor[]): [Tensor, Tensor] {
    const [q, , , biasH, biasW] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const [batch, tokens] = q.shape as [number, number, number];
    const perEntry: Tensor[] = [];
    const statsPerEntry: Tensor[] = [];
    const cat = (parts: Tensor[]) => parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    for (let b = 0; b < batch; b++) {
      const [entryOut, entryStats] = tf.tidy(() => {
        const entry = operands(inputs, b);
        const scaledQ = tf.mul(row(q, b), scale); // [T, hd]
        const bh = row(biasH, b); // [T, h]
        const bw = row(biasW, b); // [T, w]
        const blocks: Tensor[] = [];
        const blockStats: Tensor[] = [];
        for (let start = 0; start < tokens; start += queryBlock) {
          const r = Math.min(queryBlock, tokens - start);
          const [block, stats] = tf.tidy(() => {
            const [p, stats] = biasedSoftmaxWithStats(
              logitsOf(rows(scaledQ, start, r), entry),
              rows(bh, start, r),
              rows(bw, start, r),
              [h, w],
            ); // [r, L+T], [r, 2]
            return [matMul(p, entry.values), stats]; // [r, L+T] @ [L+T, hd] -> [r, hd]
          });
          blocks.push(block!);
          blockStats.push(stats!);
        }
        return [cat(blocks), cat(blockStats)]; // [T, hd], [T, 2]
      });
      perEntry.push(entryOut!);
      statsPerEntry.push(entryStats!);
    }
    const out = tf.stack(perEntry); // [B, T, hd]
    const stats = tf.stack(statsPerEntry); // [B, T, 2]
    tf.dispose([...perEntry, ...statsPerEntry]);
    return [out, stats];
  }

  /**
   * Standard attention backward, block by block, with P recomputed: dV = Pᵀ dO, dP = dO Vᵀ,
   * dS = P ⊙ (dP − rowsum(dO ⊙ O)), dq = scale · dS K, dK = dSᵀ (scale · q); the biases' gradients
   * are dS's sums over key columns (relH) and key rows (relW) of the spatial part.
   */
  function backward(dy: Tensor, saved: Tensor[]): Tensor[] {
    const inputs = saved.slice(0, -2);
    const [out, stats] = saved.slice(-2) as [Tensor, Tensor];
    const [q, , , biasH, biasW] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    const [batch, tokens] = q.shape as [number, number, number];
    const grads: Tensor[][] = inputs.map(() => []); // per input, one entry per b
    for (let b = 0; b < batch; b++) {
      const entryGrads = tf.tidy(() => {
        const operandsOfB = operands(inputs, b);
        const { keys, values } = operandsOfB;
        const valuesT = explicitTransposes ? values.transpose() : undefined; // [hd, L+T]
        const scaledQ = tf.mul(row(q, b), scale); // [T, hd]
        const bh = row(biasH, b);
        const bw = row(biasW, b);
        const o = row(out, b); // [T, hd]
        const statsOfB = row(stats, b); // [T, 2]
        const dO = row(dy, b); // [T, hd]
        // dSᵀ q and Pᵀ dO transpose a [r, L+T] block each on wasm; accumulating dKᵀ += qᵀ dS
        // instead (small transposes) was measured slower: XNNPACK is slow on [64, r] @ [r, L+T].
        let dKeys = tf.zerosLike(keys); // [L+T, hd]
        let dValues = tf.zerosLike(values);
        const dQ: Tensor[] = [];
        const dBiasH: Tensor[] = [];
        const dBiasW: Tensor[] = [];
        for (let start = 0; start < tokens; start += queryBlock) {
          const r = Math.min(queryBlock, tokens - start);
          const [nextKeys, nextValues, dq, dbh, dbw] = tf.tidy(() => {
            const qBlock = rows(scaledQ, start, r); // [r, hd]
            const dOBlock = rows(dO, start, r); // [r, hd]
            const p = biasedExp(
              logitsOf(qBlock, operandsOfB),
              rows(bh, start, r),
              rows(bw, start, r),
              rows(statsOfB, start, r),
              [h, w],
            ); // [r, L+T], the forward pass's probabilities again
            // [r, hd] @ [hd, L+T] -> [r, L+T]
            const dP = valuesT ? matMul(dOBlock, valuesT) : matMul(dOBlock, values, false, true);
            const delta = tf.sum(tf.mul(dOBlock, rows(o, start, r)), 1, true); // [r, 1]
            // dS [r, L+T], and its spatial sums over key columns [r, h] and key rows [r, w].
            const [dS, dbh, dbw] = biasedSoftmaxBackward(p, dP, delta, [h, w]);
            return [
              tf.add(dKeys, matMul(dS, qBlock, true)), // [L+T, r] @ [r, hd]
              tf.add(dValues, matMul(p, dOBlock, true)), // [L+T, r] @ [r, hd]
              tf.mul(matMul(dS, keys), scale), // [r, L+T] @ [L+T, hd] -> [r, hd]
              dbh,
              dbw,
            ];
          });
          tf.dispose([dKeys, dValues]);
          dKeys = nextKeys!;
          dValues = nextValues!;
          dQ.push(dq!);
          dBiasH.push(dbh!);
          dBiasW.push(dbw!);
        }
        const cat = (parts: Tensor[]) => parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
        const prefixLength = keys.shape[0]! - tokens;
        const tail = (t: Tensor) => hasPrefix ? t.slice([prefixLength, 0], [tokens, -1]) : t;
        const entry = [cat(dQ), tail(dKeys), tail(dValues), cat(dBiasH), cat(dBiasW)];
        if (hasPrefix) {
          entry.push(
            dKeys.slice([0, 0], [prefixLength, -1]),
            dValues.slice([0, 0], [prefixLength, -1]),
          );
        }
        return entry;
      });
      entryGrads.forEach((g, i) => grads[i]!.push(g));
    }
    return grads.map((parts) => {
      const stacked = tf.stack(parts); // [B, rows, cols]
      tf.dispose(parts);
      return stacked;
    });
  }

  return tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const inputs = args as Tensor[];
    const [value, stats] = forward(inputs);
    // Only the inputs, the output and the rows' statistics (8 bytes a query) are kept for
    // backward (and only while a tape records).
    save([...inputs, value, stats]);
    return { value, gradFunc: backward };
  });
}
