/**
 * A training step's gradients with MoSA's consistency term (two passes through different expert
 * draws, each pass's distributions a constant target for the other) against central finite
 * differences, on the cpu backend and a tiny model; and the step's loss value.
 */
import { ok as assert } from "node:assert/strict";
import { type Tensor3D, type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { uninstallBlasMatMul } from "../../lib/backend/blas_matmul.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { classDistributions, klToTarget, symmetricKl } from "../../lib/train/consistency_loss.ts";
import { segmentationLoss } from "../../lib/train/loss.ts";
import { stepGradients } from "../../lib/train/step_gradients.ts";
import { onBackend } from "../_backends.ts";
import { centralDifferenceFailures } from "../_finite_differences.ts";
import {
  randomImages,
  randomLabels,
  randomSam,
  SMALL_B_SIZE,
  SMALL_CONFIG,
} from "../peft/_helpers.ts";

await onBackend("cpu");
// float64 accumulation in tfjs's own cpu products keeps the differences' rounding noise low.
uninstallBlasMatMul("cpu");

const EPS = 3e-2;
const RELATIVE = 2e-2;
const WEIGHT = 1.5;
const STEP = 0;

Deno.test("stepGradients() with the consistency term matches central differences of its loss", () => {
  const sam = randomSam(SMALL_B_SIZE);
  const config = validatePeftConfig({
    method: "mosa",
    ...SMALL_CONFIG,
    mosaShare: "down",
    mosaConsistency: WEIGHT,
  });
  const model = PeftModel.create(sam, config, { numClasses: 2, seed: 12 });
  const last = SMALL_B_SIZE.depth - 1;
  // Off their initial values (the zero up-projections would hide the down gradients); the down
  // biases up by 3 so that the ReLUs stay off their kinks.
  [...model.trainableVariables()].forEach(([name, variable], i) => {
    if (!name.includes(".adapter.")) return;
    variable.assign(tf.tidy(() =>
      tf.add(
        tf.add(variable, tf.randomNormal(variable.shape, 0, 0.2, "float32", 200 + i)),
        name.endsWith("down.bias") ? 3 : 0,
      )
    ));
  });
  const images = randomImages(SMALL_B_SIZE, 1);
  const labels = randomLabels(SMALL_B_SIZE, 1, 2) as Tensor3D;
  const loss = (logits: Tensor4D) => segmentationLoss(logits, labels);
  const logitsOf = (pass: number) => {
    model.prepareTrainingPass({ step: STEP, pass });
    const logits = model.forward(images);
    model.prepareTrainingPass(undefined);
    return logits;
  };

  // The experts each pass draws in the first and the last block: for the probes.
  const probed = new Set<string>();
  for (const block of [0, last]) {
    probed.add(`encoder.blocks.${block}.adapter.down.weight`);
    for (const pass of [0, 1]) {
      const up = model.mosaDraw(block, { step: STEP, pass })!.up;
      probed.add(`encoder.blocks.${block}.adapter.up.experts.${up}.weight`);
      probed.add(`encoder.blocks.${block}.adapter.up.experts.${up}.bias`);
    }
  }
  const passOnly = [0, last].filter((block) =>
    model.mosaDraw(block, { step: STEP, pass: 0 })!.up !==
      model.mosaDraw(block, { step: STEP, pass: 1 })!.up
  );
  assert(passOnly.length > 0, "both passes draw the same experts: pick another seed");

  const variables = model.trainableVariables();
  const { value, grads } = stepGradients(model, images, loss, [...variables.values()], STEP);

  // The value: seg(out₁) + W x symmetric KL between the passes.
  const a = logitsOf(0), b = logitsOf(1);
  const expectedValue = tf.tidy(() => tf.add(loss(a), tf.mul(symmetricKl(a, b), WEIGHT)));
  const got = value.dataSync()[0]!, want = expectedValue.dataSync()[0]!;
  assert(Math.abs(got - want) <= 1e-5 * Math.abs(want), `loss ${got} vs ${want}`);

  // The objective whose gradient it is: each pass against the other's distributions at θ₀.
  const targetA = classDistributions(a), targetB = classDistributions(b);
  const objective = () =>
    tf.tidy(() => {
      const outA = logitsOf(0), outB = logitsOf(1);
      return tf.addN([
        loss(outA),
        tf.mul(klToTarget(outA, targetB), WEIGHT / 2),
        tf.mul(klToTarget(outB, targetA), WEIGHT / 2),
      ]).dataSync()[0]!;
    });

  const failures = centralDifferenceFailures(
    [...probed].map((name) => {
      const variable = variables.get(name)!;
      const gradient = grads[variable.name];
      assert(gradient, `"${name}" got no gradient`);
      return { name, variable, analytic: gradient.dataSync() as Float32Array };
    }),
    objective,
    { eps: EPS, relative: RELATIVE, seed: 5 },
  );
  assert(failures.length === 0, failures.join("\n"));
  tf.dispose([
    value,
    expectedValue,
    a,
    b,
    targetA,
    targetB,
    images,
    labels,
    ...Object.values(grads),
  ]);
  model.dispose();
  sam.dispose();
});
