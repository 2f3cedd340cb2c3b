/**
 * Layer norm: the wasm SIMD kernel and its gradient against float64 by hand (values, and the
 * gradients of x, weight and bias of Σ y·w for a fixed weighting), frozen and trainable, on
 * every backend; a width that is not a multiple of 4 takes the tfjs ops.
 */
import { ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { layerNorm } from "../../lib/nn/layer_norm.ts";
import { markFrozen } from "../../lib/nn/lean_ops.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { assertAllClose, availableBackends, onBackend } from "../_backends.ts";

const EPS = 1e-6;

function randomValues(count: number, seed: number, scale = 1, offset = 0): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: count }, () => (random() - 0.5) * 2 * scale + offset);
}

/** float64 layer norm of rows of `width`, and the gradients of Σ y ⊙ weighting. */
function reference(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  weighting: Float32Array,
  width: number,
) {
  const rows = x.length / width;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dGamma = new Float64Array(width);
  const dBeta = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * width, (r + 1) * width));
    const mean = row.reduce((a, b) => a + b, 0) / width;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / width;
    const rstd = 1 / Math.sqrt(variance + EPS);
    const xHat = row.map((v) => (v - mean) * rstd);
    const g = xHat.map((_, j) => weighting[r * width + j]! * gamma[j]!);
    const meanG = g.reduce((a, b) => a + b, 0) / width;
    const meanGX = g.reduce((a, b, j) => a + b * xHat[j]!, 0) / width;
    for (let j = 0; j < width; j++) {
      y[r * width + j] = xHat[j]! * gamma[j]! + beta[j]!;
      dx[r * width + j] = rstd * (g[j]! - meanG - xHat[j]! * meanGX);
      dGamma[j]! += weighting[r * width + j]! * xHat[j]!;
      dBeta[j]! += weighting[r * width + j]!;
    }
  }
  return { y, dx, dGamma, dBeta };
}

for (const backend of await availableBackends()) {
  for (const width of [768, 12, 6]) {
    Deno.test(`layerNorm on ${backend}, width ${width}: values and gradients equal float64 (frozen and trainable)`, async () => {
      await onBackend(backend);
      const shape = [2, 3, width];
      const count = 6 * width;
      // An offset of 3: the variance must come from centred values.
      const xValues = randomValues(count, 1, 2, 3);
      const gammaValues = randomValues(width, 2, 0.5, 1);
      const betaValues = randomValues(width, 3);
      const weightingValues = randomValues(count, 4);
      const want = reference(xValues, gammaValues, betaValues, weightingValues, width);
      const x = tf.tensor(xValues, shape);
      const weighting = tf.tensor(weightingValues, shape);
      for (const frozen of [true, false]) {
        const gamma = tf.tensor1d(gammaValues);
        const beta = tf.tensor1d(betaValues);
        if (frozen) markFrozen([gamma, beta]);
        const y = layerNorm(x, gamma, beta, EPS);
        assertAllClose(await y.data(), want.y, 2e-5, `${frozen ? "frozen" : "trainable"} y`);
        y.dispose();
        const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(layerNorm(a, g, b, EPS), weighting));
        const [dx, dGamma, dBeta] = frozen
          ? [...tf.grads((a: tf.Tensor) => f(a, gamma, beta))([x]), undefined, undefined]
          : tf.grads(f)([x, gamma, beta]);
        assertAllClose(await dx!.data(), want.dx, 5e-5, "dx");
        if (!frozen) {
          assertAllClose(await dGamma!.data(), want.dGamma, 5e-5, "dGamma");
          assertAllClose(await dBeta!.data(), want.dBeta, 5e-5, "dBeta");
        }
        tf.dispose([dx, dGamma, dBeta, gamma, beta].filter((t) => t !== undefined));
      }
      // The wasm backend takes the SIMD kernel exactly when the width is a multiple of 4.
      const gamma = tf.tensor1d(gammaValues);
      const beta = tf.tensor1d(betaValues);
      const profile = await tf.profile(() => layerNorm(x, gamma, beta, EPS));
      const usedKernel = profile.kernels.some((k) => k.name === "MopeftLayerNorm");
      assert(usedKernel === (backend === "wasm" && width % 4 === 0), `kernel used: ${usedKernel}`);
      tf.dispose([x, weighting, gamma, beta, profile.result as tf.Tensor]);
    });
  }
}
