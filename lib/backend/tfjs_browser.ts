/**
 * What a web page's bundle links in place of `@tensorflow/tfjs` (see
 * `lib/web/browser_imports.json`). `tf.ts` imports that union package for two side effects: the
 * chained tensor methods (`x.reshape(...)`) the model code uses, and the gradient functions
 * training needs. A page only predicts, so it registers the chained methods from tfjs-core and
 * leaves out the gradients and the union's layers, converter, data and WebGL code.
 *
 * @module
 */
// @ts-ignore: tfjs-core's ESM build, which only a bundler resolves (extensionless imports).
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
