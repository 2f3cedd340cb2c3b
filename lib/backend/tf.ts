/**
 * The one place the project imports TensorFlow.js.
 *
 * tfjs-core's npm entry registers no gradient functions, and its ESM build (which holds
 * `register_all_gradients`) uses extensionless relative imports that Deno refuses to resolve.
 * The `@tensorflow/tfjs` union package's Node (CommonJS) bundle carries every gradient config and
 * registers them against the same tfjs-core instance, so importing it here once, for its side
 * effect, makes `tf.grad` work for every op on every backend. Everything else in the project
 * imports `tf` from this module, never from the npm packages directly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs";

// PROD silences tfjs's console banners (they would land in the middle of a user's output) and
// skips per-op NaN checks.
tf.env().set("PROD", true);

export { tf };
export type {
  Rank,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  Tensor5D,
  TensorLike,
  Variable,
} from "@tensorflow/tfjs-core";
