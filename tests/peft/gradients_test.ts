/**
 * Gradients of every new module (LoRA A/B, prefix reparameterisation, adapter, gates) against
 * central finite differences, on the cpu backend and a tiny model.
 */
import { ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { onBackend } from "../_backends.ts";
import { centralDifferenceFailures } from "../_finite_differences.ts";
import { randomImages, randomSam, SMALL_B_SIZE, SMALL_CONFIG } from "./_helpers.ts";
import { uninstallBlasMatMul } from "../../lib/backend/blas_matmul.ts";

await onBackend("cpu");
// tfjs's own cpu products accumulate in float64, which keeps the finite differences' rounding
// noise well below the tolerance; a native float32 sgemm would not (its parity with tfjs's
// kernels is tested in tests/backend/blas_matmul_test.ts).
uninstallBlasMatMul("cpu");

// Large enough that a step moves the loss well above the float32 encoder's rounding noise (at
// 1e-2 small gradients such as a gate's bias came out 2% off); the model is smooth at this scale.
const EPS = 3e-2;
const RELATIVE = 2e-2;

for (const method of ["mopeft", "vpt"] as const) {
  Deno.test(`${method}: gradients of every PEFT and gate tensor match central differences`, () => {
    const sam = randomSam(SMALL_B_SIZE);
    const config = validatePeftConfig({ method, ...SMALL_CONFIG });
    const model = PeftModel.create(sam, config, { numClasses: 2, seed: 11 });
    // The first block (windowed), the last (global) and the shared reparameterisation MLP.
    const last = SMALL_B_SIZE.depth - 1;
    const variables = [...model.trainableVariables()].filter(([name]) =>
      new RegExp(`^encoder\\.(blocks\\.(0|${last})\\.|\\w+_reparam\\.)`).test(name)
    );
    // Move every tensor off its initial value (B and the up-projection start at zero, which
    // would hide the gradients of A and the down-projection).
    // The adapter's down bias moves up by 3 so that its ReLU stays off the kink, where a finite
    // difference straddles two slopes and means nothing.
    variables.forEach(([name, variable], i) =>
      variable.assign(tf.tidy(() =>
        tf.add(
          tf.add(variable, tf.randomNormal(variable.shape, 0, 0.2, "float32", 100 + i)),
          name.endsWith("adapter.down.bias") ? 3 : 0,
        )
      ))
    );
    const images = randomImages(SMALL_B_SIZE, 1);
    const size = SMALL_B_SIZE.imageSize / 16;
    const weightsOut = tf.randomNormal([1, size, size, SMALL_B_SIZE.outChans], 0, 1, "float32", 3);
    const loss = () =>
      tf.tidy(() =>
        tf.div(
          tf.sum(tf.mul(encodeImage(model.weights(), images, model.extensions()), weightsOut)),
          Math.sqrt(weightsOut.size),
        ) as tf.Scalar
      );
    const lossValue = () => {
      const value = loss();
      const number = value.dataSync()[0]!;
      value.dispose();
      return number;
    };
    const { grads } = tf.variableGrads(loss, variables.map(([, v]) => v));
    const failures = centralDifferenceFailures(
      variables.map(([name, variable]) => ({
        name,
        variable,
        analytic: grads[variable.name]!.dataSync() as Float32Array,
      })),
      lossValue,
      { eps: EPS, relative: RELATIVE, seed: 21 },
    );
    assert(failures.length === 0, failures.join("\n"));
    tf.dispose([images, weightsOut, ...Object.values(grads)]);
    model.dispose();
    sam.dispose();
  });
}
