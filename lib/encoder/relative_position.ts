/**
 * SAM's decomposed relative-position terms (from MViTv2), added to the attention logits.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { isFrozen } from "../nn/lean_ops.ts";
import { matMul } from "../nn/matmul.ts";

const selectionCache = new Map<string, Tensor>();

/**
 * The constant `[querySize * keySize, tableLength]` matrix that turns a stored table into the
 * per-pair embeddings: row `(i, j)` picks table row `i - j + keySize - 1` of the table resized to
 * `2 * max(querySize, keySize) - 1` rows by linear interpolation (PyTorch's `F.interpolate`,
 * `align_corners=False`). As a matrix product this has a gradient on every backend, which a
 * `gather` has not on wasm.
 */
function selectionMatrix(querySize: number, keySize: number, tableLength: number): Tensor {
  // Per backend: a tensor made on one backend cannot be read synchronously from another.
  const key = `${tf.getBackend()}:${querySize}x${keySize}:${tableLength}`;
  const cached = selectionCache.get(key);
  if (cached) return cached;
  const distances = 2 * Math.max(querySize, keySize) - 1;
  // interpolation[d][t]: weight of stored row t in resized row d.
  const interpolation: number[][] = [];
  for (let d = 0; d < distances; d++) {
    const row = new Array<number>(tableLength).fill(0);
    if (distances === tableLength) {
      row[d] = 1;
    } else {
      const source = Math.max((d + 0.5) * (tableLength / distances) - 0.5, 0);
      const low = Math.min(Math.floor(source), tableLength - 1);
      const high = Math.min(low + 1, tableLength - 1);
      const fraction = source - low;
      row[low]! += 1 - fraction;
      row[high]! += fraction;
    }
    interpolation.push(row);
  }
  const qScale = Math.max(keySize / querySize, 1);
  const kScale = Math.max(querySize / keySize, 1);
  const values = new Float32Array(querySize * keySize * tableLength);
  for (let i = 0; i < querySize; i++) {
    for (let j = 0; j < keySize; j++) {
      const d = Math.floor(i * qScale - j * kScale + (keySize - 1) * kScale);
      values.set(interpolation[d]!, (i * keySize + j) * tableLength);
    }
  }
  const matrix = tf.keep(tf.tensor2d(values, [querySize * keySize, tableLength]));
  selectionCache.set(key, matrix);
  return matrix;
}

/**
 * Per-pair relative embeddings `[querySize, keySize, headDim]` from a stored table
 * `[tableLength, headDim]`.
 */
export function relativeEmbeddings(querySize: number, keySize: number, table: Tensor): Tensor {
  return tf.tidy(() => {
    const [tableLength, headDim] = table.shape as [number, number];
    const selection = selectionMatrix(querySize, keySize, tableLength);
    return matMul(selection, table).reshape([querySize, keySize, headDim]);
  });
}

/**
 * The decomposed relative-position terms as two small biases, before they are broadcast over the
 * key grid: `relH[b, (y, x), ky] = q[b, (y, x)] · embH[y, ky]` and
 * `relW[b, (y, x), kx] = q[b, (y, x)] · embW[x, kx]`.
 *
 * Its gradient keeps only the queries and the tables (tfjs's own would keep two transposed copies
 * of the queries and the products before and after their transposes: 29 MiB per windowed vit_b
 * block at 1024 px, 72 MiB per global one) and recomputes the transposed copies it needs.
 *
 * @param queries `[N, h*w, headDim]` queries, unscaled.
 * @returns `[N, h*w, h]` and `[N, h*w, w]`.
 */
export function relativeBiases(
  queries: Tensor,
  tableH: Tensor,
  tableW: Tensor,
  size: [number, number],
): [Tensor, Tensor] {
  // Two ops that both keep the queries: one buffer, kept once.
  return [
    relativeBias(queries, tableH, size, "rows"),
    relativeBias(queries, tableW, size, "columns"),
  ];
}

/**
 * One of the two biases of {@link relativeBiases}, as a `tf.customGrad` op: along `rows`, the
 * queries batched over y `[h, n*w, hd]` times `embH` `[h, kh, hd]`; along `columns`, batched over
 * x `[w, n*h, hd]` times `embW`. Returns `[n, h*w, h]` or `[n, h*w, w]`.
 */
function relativeBias(
  queries: Tensor,
  table: Tensor,
  [h, w]: [number, number],
  along: "rows" | "columns",
): Tensor {
  const [n, , headDim] = queries.shape as [number, number, number];
  // rows: [y][b, x]; columns: [x][b, y].
  const [outer, inner] = along === "rows" ? [h, w] : [w, h];
  const toBatched = along === "rows" ? [1, 0, 2, 3] : [2, 0, 1, 3];
  // The inverse permutation: [outer, n, inner, ·] back to [n, y, x, ·].
  const fromBatched = along === "rows" ? [1, 0, 2, 3] : [1, 2, 0, 3];
  const batched = (q: Tensor) =>
    q.reshape([n, h, w, headDim]).transpose(toBatched).reshape([outer, n * inner, headDim]);
  const op = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [q, stored] = args as [Tensor, Tensor];
    save([q, stored]);
    const embedding = relativeEmbeddings(outer, outer, stored); // [outer, k, hd]
    const bias = matMul(batched(q), embedding, false, true) // [outer, n*inner, k]
      .reshape([outer, n, inner, outer]).transpose(fromBatched) // [n, y, x, k]
      .reshape([n, h * w, outer]);
    return {
      value: bias,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [savedQ, savedTable] = saved as [Tensor, Tensor];
        const dBatched = dy.reshape([n, h, w, outer]).transpose(toBatched).reshape([
          outer,
          n * inner,
          outer,
        ]);
        const dQ = matMul(dBatched, relativeEmbeddings(outer, outer, savedTable)) // [outer, n*inner, hd]
          .reshape([outer, n, inner, headDim]).transpose(fromBatched)
          .reshape([n, h * w, headDim]);
        // A frozen table (the checkpoint's, under PEFT) gets zeros without the products.
        if (isFrozen(table)) return [dQ, tf.zerosLike(savedTable)];
        const dEmbedding = matMul(dBatched, batched(savedQ), true, false); // [outer, k, hd]
        const selection = selectionMatrix(outer, outer, savedTable.shape[0]!); // [outer*k, length]
        const dTable = matMul(selection, dEmbedding.reshape([outer * outer, headDim]), true, false);
        return [dQ, dTable];
      },
    };
  }) as (q: Tensor, table: Tensor) => Tensor;
  return op(queries, table);
}
