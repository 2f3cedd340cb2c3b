/**
 * The mask decoder's two-way transformer: output tokens attend to the image and the image
 * attends back to the tokens.
 *
 * @module
 */
import { type Tensor, type Tensor3D, tf } from "../backend/tf.ts";
import { matMul } from "../nn/matmul.ts";
import { layerNorm } from "../nn/layer_norm.ts";
import { linear } from "../nn/linear.ts";
import type { ModelWeights } from "../encoder/weights.ts";

/** PyTorch's default LayerNorm eps, used throughout the two-way transformer. */
const TRANSFORMER_EPS = 1e-5;

/** Attention with q/k/v projections to a (possibly downsampled) internal width. */
function attention(
  weights: ModelWeights,
  prefix: string,
  numHeads: number,
  queries: Tensor,
  keys: Tensor,
  values: Tensor,
): Tensor {
  return tf.tidy(() => {
    const heads = (x: Tensor) => {
      const [batch, tokens, width] = x.shape as [number, number, number];
      return x.reshape([batch, tokens, numHeads, width / numHeads]).transpose([0, 2, 1, 3]);
    };
    const q = heads(
      linear(queries, weights.get(`${prefix}.q_proj.weight`), weights.get(`${prefix}.q_proj.bias`)),
    );
    const k = heads(
      linear(keys, weights.get(`${prefix}.k_proj.weight`), weights.get(`${prefix}.k_proj.bias`)),
    );
    const v = heads(
      linear(values, weights.get(`${prefix}.v_proj.weight`), weights.get(`${prefix}.v_proj.bias`)),
    );
    const headDim = q.shape[3]!;
    const probabilities = tf.softmax(tf.div(matMul(q, k, false, true), Math.sqrt(headDim)));
    const out = matMul(probabilities, v); // [B, heads, Nq, hd]
    const [batch, , tokens] = out.shape as [number, number, number, number];
    const merged = out.transpose([0, 2, 1, 3]).reshape([batch, tokens, -1]);
    return linear(
      merged,
      weights.get(`${prefix}.out_proj.weight`),
      weights.get(`${prefix}.out_proj.bias`),
    );
  });
}

function norm(weights: ModelWeights, name: string, x: Tensor): Tensor {
  return layerNorm(x, weights.get(`${name}.weight`), weights.get(`${name}.bias`), TRANSFORMER_EPS);
}

/**
 * Runs the two-way transformer.
 *
 * @param image `[B, h*w, C]` image embedding tokens (plus the dense prompt embedding).
 * @param imagePositions `[B, h*w, C]` dense positional encoding.
 * @param tokens `[B, N, C]` output tokens (IoU token, mask tokens, sparse prompts).
 * @returns the processed tokens `[B, N, C]` and image tokens `[B, h*w, C]`.
 */
export function twoWayTransformer(
  weights: ModelWeights,
  image: Tensor3D,
  imagePositions: Tensor3D,
  tokens: Tensor3D,
): { tokens: Tensor3D; image: Tensor3D } {
  return tf.tidy(() => {
    const arch = weights.architecture.decoder;
    const t = "mask_decoder.transformer";
    let queries: Tensor = tokens;
    let keys: Tensor = image;
    for (let layer = 0; layer < arch.depth; layer++) {
      const l = `${t}.layers.${layer}`;
      if (layer === 0) {
        // The first layer's self-attention has no residual and no positional term.
        queries = attention(weights, `${l}.self_attn`, arch.numHeads, queries, queries, queries);
      } else {
        const q = tf.add(queries, tokens);
        queries = tf.add(
          queries,
          attention(weights, `${l}.self_attn`, arch.numHeads, q, q, queries),
        );
      }
      queries = norm(weights, `${l}.norm1`, queries);
      let q = tf.add(queries, tokens);
      let k = tf.add(keys, imagePositions);
      queries = tf.add(
        queries,
        attention(weights, `${l}.cross_attn_token_to_image`, arch.numHeads, q, k, keys),
      );
      queries = norm(weights, `${l}.norm2`, queries);
      const hidden = tf.relu(
        linear(queries, weights.get(`${l}.mlp.lin1.weight`), weights.get(`${l}.mlp.lin1.bias`)),
      );
      queries = tf.add(
        queries,
        linear(hidden, weights.get(`${l}.mlp.lin2.weight`), weights.get(`${l}.mlp.lin2.bias`)),
      );
      queries = norm(weights, `${l}.norm3`, queries);
      q = tf.add(queries, tokens);
      k = tf.add(keys, imagePositions);
      keys = tf.add(
        keys,
        attention(weights, `${l}.cross_attn_image_to_token`, arch.numHeads, k, q, queries),
      );
      keys = norm(weights, `${l}.norm4`, keys);
    }
    const q = tf.add(queries, tokens);
    const k = tf.add(keys, imagePositions);
    queries = tf.add(
      queries,
      attention(weights, `${t}.final_attn_token_to_image`, arch.numHeads, q, k, keys),
    );
    queries = norm(weights, `${t}.norm_final_attn`, queries);
    return { tokens: queries as Tensor3D, image: keys as Tensor3D };
  });
}
