/**
 * SAM's decomposed relative-position terms (from MViTv2), added to the attention logits.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { leanAdd, leanReshape } from "../nn/lean_ops.ts";
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
 * @param queries `[N, h*w, headDim]` queries, unscaled.
 * @returns `[N, h*w, h]` and `[N, h*w, w]`.
 */
export function relativeBiases(
  queries: Tensor,
  tableH: Tensor,
  tableW: Tensor,
  [h, w]: [number, number],
): [Tensor, Tensor] {
  return tf.tidy(() => {
    const [n, , headDim] = queries.shape as [number, number, number];
    const embH = relativeEmbeddings(h, h, tableH); // [h, kh, hd]
    const embW = relativeEmbeddings(w, w, tableW); // [w, kw, hd]
    const grid = queries.reshape([n, h, w, headDim]);
    const byRow = grid.transpose([1, 0, 2, 3]).reshape([h, n * w, headDim]); // batched over y
    const relH = matMul(byRow, embH, false, true) // [h, n*w, kh]
      .reshape([h, n, w, h]).transpose([1, 0, 2, 3]) // [n, y, x, ky]
      .reshape([n, h * w, h]);
    const byCol = grid.transpose([2, 0, 1, 3]).reshape([w, n * h, headDim]); // batched over x
    const relW = matMul(byCol, embW, false, true) // [w, n*h, kw]
      .reshape([w, n, h, w]).transpose([1, 2, 0, 3]) // [n, y, x, kx]
      .reshape([n, h * w, w]);
    return [relH, relW] as [Tensor, Tensor];
  });
}

/**
 * Adds the decomposed relative-position terms to attention logits.
 *
 * @param logits `[N, h*w, h*w]` logits over one window (or the whole grid), N = batch * heads.
 * @param queries `[N, h*w, headDim]` queries, unscaled.
 * @param tableH `rel_pos_h`, `[2h-1, headDim]` (resized when it differs).
 * @param tableW `rel_pos_w`.
 * @param size `[h, w]` of the window.
 */
export function addRelativePosition(
  logits: Tensor,
  queries: Tensor,
  tableH: Tensor,
  tableW: Tensor,
  size: [number, number],
): Tensor {
  return tf.tidy(() => {
    const [h, w] = size;
    const n = queries.shape[0]!;
    const [relH, relW] = relativeBiases(queries, tableH, tableW, size);
    // Lean adds: tfjs's would keep two copies of the logits for their shapes.
    const withPosition = leanAdd(
      leanAdd(leanReshape(logits, [n, h, w, h, w]), relH.reshape([n, h, w, h, 1])),
      relW.reshape([n, h, w, 1, w]),
    );
    return leanReshape(withPosition, [n, h * w, h * w]);
  });
}
