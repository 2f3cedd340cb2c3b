/**
 * Decoder-only training encodes outside the gradient tape: the same losses and weights, bit for
 * bit, as taping the whole forward pass, at a lower memory peak.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { METHOD_NAMES } from "../../lib/peft/registry.ts";
import type { TrainableModel } from "../../lib/train/trainable.ts";
import { train } from "../../lib/train/trainer.ts";
import { assertSameRun, onBackend, TRAINED } from "../_backends.ts";
import { randomSam, SMALL_CONFIG, snapshot } from "../peft/_helpers.ts";

await onBackend("wasm");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));

/**
 * Trains 4 steps; returns the losses, the final weights, the peak bytes above the start and the
 * tensors alive when the first forward pass has its logits (what the tape keeps for the backward
 * pass, plus the step's inputs).
 */
async function run(model: TrainableModel) {
  const losses: number[] = [];
  const start = tf.memory().numBytes;
  const startTensors = tf.memory().numTensors;
  let atLogits: { tensors: number; bytes: number } | undefined;
  const noting = (logits: tf.Tensor4D) => {
    const { numTensors, numBytes } = tf.memory();
    atLogits ??= { tensors: numTensors - startTensors, bytes: numBytes - start };
    return logits;
  };
  const frozenSplit = model.frozenSplit?.();
  const observed: TrainableModel = {
    trainableVariables: () => model.trainableVariables(),
    forward: (images) => noting(model.forward(images)),
    frozenSplit: frozenSplit && (() => ({
      features: (images) => frozenSplit.features(images),
      logits: (features) => noting(frozenSplit.logits(features)),
    })),
  };
  const { peakBytes } = await tf.profile(async () => {
    await train(observed, new SegmentationReader(split, { size: TINY_SIZE.imageSize, seed: 2 }), {
      batchSize: 2,
      maxSteps: 4,
      learningRate: 1e-3,
      onLog: (record) => void losses.push(record.loss),
    });
  });
  const weights = snapshot(model.trainableVariables());
  return { losses, weights, peak: peakBytes - start, atLogits: atLogits! };
}

Deno.test("decoder-only training: untaped encoder, same numbers as the taped forward pass, lower peak", async () => {
  const sam = randomSam(TINY_SIZE);
  const config = validatePeftConfig({ method: "decoder" });
  const options = { numClasses: 3, seed: 3 };
  const untapedModel = PeftModel.create(sam, config, options);
  assert(untapedModel.frozenSplit() !== undefined, "the decoder method offers no frozen split");
  const untaped = await run(untapedModel);

  // The same model without the split: the trainer tapes the encoder too, as it did before.
  const tapedModel = PeftModel.create(sam, config, options);
  const taped = await run({
    trainableVariables: () => tapedModel.trainableVariables(),
    forward: (images) => tapedModel.forward(images),
  });

  assertSameRun(untaped.losses, taped.losses, "losses");
  assertEquals(untaped.losses.length, 4);
  for (const [name, values] of taped.weights) {
    assertSameRun(untaped.weights.get(name)!, values, name, TRAINED);
  }
  // Measured on wasm, tiny SAM, batch 2: at the logits 1358 tensors / 13.9 MB taped, 832 /
  // 3.5 MB untaped; peak 31.3 MB taped, 20.8 MB untaped (the decoder's backward pass sets it).
  // Since the encoder's frozen layers keep less for backward (lib/nn/lean_ops.ts), its tape is
  // smaller: 7.2 MB taped against 3.2 MB untaped at the logits, peak 24.1 MB against 20.1 MB.
  console.log(`peak above start: taped ${taped.peak} B, untaped ${untaped.peak} B`);
  console.log(
    `alive at the logits: taped ${JSON.stringify(taped.atLogits)}, untaped ${
      JSON.stringify(untaped.atLogits)
    }`,
  );
  assert(
    untaped.atLogits.bytes < 0.5 * taped.atLogits.bytes,
    `at the logits ${untaped.atLogits.bytes} B vs ${taped.atLogits.bytes} B taped`,
  );
  assert(untaped.atLogits.tensors < taped.atLogits.tensors);
  assert(untaped.peak < 0.9 * taped.peak, `peak ${untaped.peak} B vs ${taped.peak} B taped`);
  untapedModel.dispose();
  tapedModel.dispose();
  sam.dispose();
});

Deno.test("only a method that trains nothing in the encoder offers a frozen split", () => {
  const sam = randomSam(TINY_SIZE);
  const splitting = METHOD_NAMES.filter((method) => {
    const model = PeftModel.create(sam, validatePeftConfig({ method, ...SMALL_CONFIG }), {
      numClasses: 2,
      seed: 1,
    });
    const found = model.frozenSplit() !== undefined;
    model.dispose();
    return found;
  });
  assertEquals(splitting, ["decoder"]);
  sam.dispose();
});
