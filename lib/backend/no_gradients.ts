/**
 * What a web page's bundle links in place of `@tensorflow/tfjs` (see
 * `lib/web/browser_imports.json`). `tf.ts` imports that union package only to register the
 * gradient functions training needs; a page only predicts, so it keeps to tfjs-core and its two
 * backends and saves the union's layers, converter, data and WebGL code.
 *
 * @module
 */
export {};
