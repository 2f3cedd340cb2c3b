/**
 * A batch taken in micro-batches gives the loss and the gradients of the whole batch: on a frozen
 * encoder (decoder-only, embeddings kept between the passes) and on a training encoder (staged
 * gradients), with uneven parts, ignored pixels and unequal valid counts per sample (where a
 * mean of the parts' losses would be wrong).
 */
import { ok as assert } from "node:assert/strict";
import { type Tensor3D, tf } from "../../lib/backend/tf.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";
import type { SamSize } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { segmentationLoss } from "../../lib/train/loss.ts";
import { batchGradients } from "../../lib/train/micro_batch.ts";
import type { TrainableModel } from "../../lib/train/trainable.ts";
import { assertAllClose, onBackend } from "../_backends.ts";
import { randomImages, randomSam, SMALL_CONFIG } from "../peft/_helpers.ts";
import { SOAK_SIZE } from "./_soak.ts";

await onBackend("wasm");

const NUM_CLASSES = 3;

/** Labels `[B, S, S]`; sample b ignores (255) its first `b * S / 4` rows. */
function labelsWithIgnored(size: SamSize, batch: number): Tensor3D {
  const random = mulberry32(11);
  const side = size.imageSize;
  const values = new Int32Array(batch * side * side);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < side * side; i++) {
      const row = Math.floor(i / side);
      values[b * side * side + i] = row < (b * side) / 4 ? 255 : Math.floor(random() * NUM_CLASSES);
    }
  }
  return tf.tensor3d(values, [batch, side, side], "int32");
}

async function gradientsOf(
  model: TrainableModel,
  images: tf.Tensor4D,
  labels: Tensor3D,
  microBatch?: number,
  step?: number,
) {
  const variables = [...model.trainableVariables().values()];
  const { value, grads } = batchGradients(model, images, labels, variables, { microBatch, step });
  const loss = (await value.data())[0]!;
  const values = new Map<string, Float32Array>();
  for (const [name, gradient] of Object.entries(grads)) {
    values.set(name, (await gradient.data()) as Float32Array);
  }
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: values };
}

async function checkMicroBatches(model: TrainableModel, size: SamSize, step?: number) {
  const batch = 3;
  const images = randomImages(size, batch);
  const labels = labelsWithIgnored(size, batch);
  const whole = await gradientsOf(model, images, labels, undefined, step);
  const before = tf.memory().numTensors;
  for (const microBatch of [1, 2]) {
    const parts = await gradientsOf(model, images, labels, microBatch, step);
    assertAllClose([parts.loss], [whole.loss], 1e-6, `loss, micro-batch ${microBatch}`);
    assert(parts.grads.size === whole.grads.size && whole.grads.size > 0);
    // Relative to each variable's own largest gradient, with a floor for the ones that start at
    // zero (LoRA's A while B is 0).
    const largest = (values: Float32Array) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const overall = Math.max(...[...whole.grads.values()].map(largest));
    assert(overall > 0);
    for (const [name, expected] of whole.grads) {
      assertAllClose(
        parts.grads.get(name)!,
        expected,
        1e-4 * largest(expected) + 1e-7 * overall,
        `${name}, micro-batch ${microBatch}`,
      );
    }
  }
  assert(tf.memory().numTensors === before, "batchGradients left tensors behind");

  // The test can fail: the mean of the parts' own losses (naive accumulation) misses the loss by
  // over 20 times the tolerance above.
  const naive = tf.tidy(() => {
    const logits = model.forward(images);
    const part = (start: number, count: number) =>
      segmentationLoss(
        logits.slice([start, 0, 0, 0], [count, -1, -1, -1]),
        labels.slice([start, 0, 0], [count, -1, -1]),
      );
    return tf.addN([part(0, 1), part(1, 1), part(2, 1)]).div(3).dataSync()[0]!;
  });
  assert(Math.abs(naive - whole.loss) > 2e-5, `naive ${naive} vs ${whole.loss}`);
  tf.dispose([images, labels]);
}

Deno.test("micro-batches of a frozen encoder (decoder only) give the whole batch's loss and gradients", async () => {
  const sam = randomSam(SOAK_SIZE);
  const model = PeftModel.create(sam, validatePeftConfig({ method: "decoder" }), {
    numClasses: NUM_CLASSES,
    seed: 3,
  });
  assert(model.frozenSplit() !== undefined);
  await checkMicroBatches(model, SOAK_SIZE);
  model.dispose();
  sam.dispose();
});

Deno.test("micro-batches of a training encoder (MoPEFT, staged gradients) give the whole batch's loss and gradients", async () => {
  const sam = randomSam(SOAK_SIZE);
  const model = PeftModel.create(
    sam,
    validatePeftConfig({ method: "mopeft", ...SMALL_CONFIG }),
    { numClasses: NUM_CLASSES, seed: 3 },
  );
  assert(model.stages() !== undefined);
  await checkMicroBatches(model, SOAK_SIZE);
  model.dispose();
  sam.dispose();
});

Deno.test("micro-batches of a MoSA step (expert draws, two-pass consistency term) give the whole batch's loss and gradients", async () => {
  const sam = randomSam(SOAK_SIZE);
  const model = PeftModel.create(
    sam,
    validatePeftConfig({ method: "mosa", ...SMALL_CONFIG, mosaConsistency: 1 }),
    { numClasses: NUM_CLASSES, seed: 3 },
  );
  assert(model.consistencyWeight() > 0);
  // Trained-looking up projections: at their zero start both passes agree and the consistency
  // term has no gradient, so a wrong weighting of it would go unseen.
  const random = mulberry32(5);
  let upExperts = 0;
  for (const [name, variable] of model.trainableVariables()) {
    if (!name.includes(".up.")) continue;
    upExperts++;
    const values = Float32Array.from({ length: variable.size }, () => (random() - 0.5) * 0.2);
    variable.assign(tf.tensor(values, variable.shape));
  }
  assert(upExperts > 0);
  await checkMicroBatches(model, SOAK_SIZE, 7);
  model.dispose();
  sam.dispose();
});

Deno.test("batchGradients() refuses a micro-batch that is not a positive integer", () => {
  const model: TrainableModel = {
    trainableVariables: () => new Map(),
    forward: (images) => images,
  };
  const images = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
  const labels = tf.zeros([2, 4, 4], "int32") as Tensor3D;
  for (const microBatch of [0, 1.5]) {
    let message = "";
    try {
      batchGradients(model, images, labels, [], { microBatch });
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message.includes("Micro-batch must be a positive integer"), message);
  }
  tf.dispose([images, labels]);
});

Deno.test("micro-batches run one extra forward pass for each part but the last, and the head once per part", async () => {
  const sam = randomSam(SOAK_SIZE);
  const model = PeftModel.create(
    sam,
    validatePeftConfig({ method: "mopeft", ...SMALL_CONFIG }),
    { numClasses: NUM_CLASSES, seed: 3 },
  );
  const counts = { forward: 0, head: 0 };
  // The model as the trainer sees it, counting its whole forward passes (pass 1's, for the loss
  // sums) and the runs of its last stage (one per taped pass: the tail always holds it).
  const counted: TrainableModel = {
    trainableVariables: () => model.trainableVariables(),
    forward: (images) => {
      counts.forward++;
      return model.forward(images);
    },
    prepareTrainingPass: (pass) => model.prepareTrainingPass(pass),
    consistencyWeight: () => model.consistencyWeight(),
    frozenSplit: () => model.frozenSplit(),
    stages: () => {
      const stages = model.stages()!;
      const head = stages.at(-1)!;
      return [...stages.slice(0, -1), (x) => {
        counts.head++;
        return head(x);
      }];
    },
  };
  const images = randomImages(SOAK_SIZE, 4);
  const labels = labelsWithIgnored(SOAK_SIZE, 4);
  for (const [microBatch, parts] of [[1, 4], [2, 2], [3, 2], [4, 1]] as const) {
    counts.forward = counts.head = 0;
    await gradientsOf(counted, images, labels, microBatch);
    assert(counts.forward === parts - 1, `micro-batch ${microBatch}: ${counts.forward} forwards`);
    assert(counts.head === parts, `micro-batch ${microBatch}: head ran ${counts.head} times`);
  }
  tf.dispose([images, labels]);
  model.dispose();
  sam.dispose();
});
