import assert from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import {
  CLASS_HEAD,
  decodeDetections,
  detectionArchitecture,
  initialDetectionDecoder,
} from "../../lib/decoder/detection_head.ts";
import { decodeMasks } from "../../lib/decoder/mask_decoder.ts";
import { LayeredWeights } from "../../lib/encoder/layered_weights.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { countParameters } from "../../lib/peft/count.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { assertAllClose, onBackend } from "../_backends.ts";
import { randomImages, randomSam } from "../peft/_helpers.ts";

await onBackend("cpu");

Deno.test("initialDetectionDecoder(): distinct queries near SAM's tokens, one shared hypernetwork, class MLP", async () => {
  const sam = randomSam(TINY_SIZE);
  const queries = 6;
  const tensors = initialDetectionDecoder(sam, 3, queries, 0);
  const tokens = await tensors.get("mask_decoder.mask_tokens.weight")!.array() as number[][];
  const pretrained = await sam.get("mask_decoder.mask_tokens.weight").array() as number[][];
  assert.equal(tokens.length, queries);
  const rms = Math.sqrt(
    pretrained.flat().reduce((s, v) => s + v * v, 0) / pretrained.flat().length,
  );
  for (let q = 0; q < queries; q++) {
    const offset = tokens[q]!.map((v, i) => v - pretrained[q % 4]![i]!);
    const offsetRms = Math.sqrt(offset.reduce((s, v) => s + v * v, 0) / offset.length);
    // Noise of 0.1 x the tokens' RMS: present, and small.
    assert.ok(
      offsetRms > 0.03 * rms && offsetRms < 0.3 * rms,
      `query ${q}: ${offsetRms} vs ${rms}`,
    );
  }
  // Queries 0 and 4 start from the same pretrained token and still differ.
  assert.ok(tokens[0]!.some((v, i) => v !== tokens[4]![i]));
  assert.ok(tensors.has("mask_decoder.output_hypernetworks_mlps.0.layers.0.weight"));
  assert.ok(!tensors.has("mask_decoder.output_hypernetworks_mlps.1.layers.0.weight"));
  assert.deepEqual(tensors.get(`${CLASS_HEAD}.0.weight`)!.shape, [32, 32]);
  assert.deepEqual(tensors.get(`${CLASS_HEAD}.1.weight`)!.shape, [4, 32]);
  const bound = 1 / Math.sqrt(32);
  const last = await tensors.get(`${CLASS_HEAD}.1.weight`)!.data();
  assert.ok(last.every((v) => Math.abs(v) <= bound) && last.some((v) => Math.abs(v) > bound / 2));
  // Same seed, same values; another seed, other noise.
  const again = initialDetectionDecoder(sam, 3, queries, 0);
  const other = initialDetectionDecoder(sam, 3, queries, 1);
  const name = "mask_decoder.mask_tokens.weight";
  assert.deepEqual(await again.get(name)!.data(), await tensors.get(name)!.data());
  assert.notDeepEqual(await other.get(name)!.data(), await tensors.get(name)!.data());
  tf.dispose([...tensors.values(), ...again.values(), ...other.values()]);
  sam.dispose();
});

Deno.test("decodeDetections(): the shared hypernetwork equals per-token MLPs that are all copies of MLP 0", () => {
  const sam = randomSam(TINY_SIZE);
  const queries = 5;
  const head = initialDetectionDecoder(sam, 2, queries, 0);
  const weights = new LayeredWeights(sam, head, detectionArchitecture(sam.architecture, queries));
  // The same decoder with hypernetworks 1..Q-1 copied from 0, run the per-token way.
  const copies = new Map(head);
  for (let q = 1; q < queries; q++) {
    for (let layer = 0; layer < 3; layer++) {
      for (const part of ["weight", "bias"]) {
        copies.set(
          `mask_decoder.output_hypernetworks_mlps.${q}.layers.${layer}.${part}`,
          head.get(`mask_decoder.output_hypernetworks_mlps.0.layers.${layer}.${part}`)!,
        );
      }
    }
  }
  const perToken = new LayeredWeights(
    sam,
    copies,
    detectionArchitecture(sam.architecture, queries),
  );
  const embeddings = tf.randomNormal([2, 8, 8, 32], 0, 1, "float32", 4) as tf.Tensor4D;
  const { masks, classLogits } = decodeDetections(weights, embeddings);
  assert.deepEqual(masks.shape, [2, queries, 32, 32]);
  assert.deepEqual(classLogits.shape, [2, queries, 3]);
  const reference = decodeMasks(perToken, embeddings, { predictIou: false, tokenOutputs: true });
  assertAllClose(masks.dataSync(), reference.lowResMasks.dataSync(), 1e-4);
  // The class MLP by hand on the token outputs: relu(x W0ᵀ + b0) W1ᵀ + b1.
  const expected = tf.tidy(() => {
    const x = reference.maskTokenOutputs!;
    const hidden = tf.relu(
      tf.add(
        tf.matMul(x.reshape([-1, 32]), head.get(`${CLASS_HEAD}.0.weight`)!, false, true),
        head.get(`${CLASS_HEAD}.0.bias`)!,
      ),
    );
    return tf.add(
      tf.matMul(hidden, head.get(`${CLASS_HEAD}.1.weight`)!, false, true),
      head.get(`${CLASS_HEAD}.1.bias`)!,
    );
  });
  assertAllClose(classLogits.dataSync(), expected.dataSync(), 1e-5);
  tf.dispose([
    masks,
    classLogits,
    reference.lowResMasks,
    reference.maskTokenOutputs!,
    expected,
    embeddings,
  ]);
  tf.dispose([...head.values()]);
  sam.dispose();
});

Deno.test("PeftModel with the detection head: detect() through every PEFT module, tensors round-trip, counted", async () => {
  const sam = randomSam(TINY_SIZE);
  const config = validatePeftConfig({
    method: "mopeft",
    loraRank: 2,
    prefixLength: 2,
    adapterDim: 4,
  });
  const head = { task: "detection" as const, queries: 4 };
  const model = PeftModel.create(sam, config, { numClasses: 3, seed: 0, head });
  const images = randomImages(TINY_SIZE, 1);
  const output = model.detect(images);
  assert.deepEqual(output.masks.shape, [1, 4, 32, 32]);
  assert.deepEqual(output.classLogits.shape, [1, 4, 4]);
  assert.throws(() => model.forward(images), /detection head: use detect\(\)/);
  const loaded = PeftModel.fromTensors(
    sam,
    config,
    { numClasses: 3, seed: 0, head },
    await model.exportTensors(),
  );
  const again = loaded.detect(images);
  assertAllClose(again.masks.dataSync(), output.masks.dataSync(), 1e-5);
  assertAllClose(again.classLogits.dataSync(), output.classLogits.dataSync(), 1e-5);
  // A semantic run's tensors are not a detection run's.
  assert.throws(
    () => PeftModel.fromTensors(sam, config, { numClasses: 3, seed: 0 }, new Map()),
    /missing tensor/,
  );
  const stored = [...(await model.exportTensors()).values()].reduce((n, t) => n + t.data.length, 0);
  const count = countParameters(sam.architecture, config, 3, head);
  assert.equal(count.trainableParams, stored);
  // Class MLP: 32·32 + 32 + 4·32 + 4; queries 4 x 32 instead of SAM's 4 tokens; one hypernetwork
  // (3 layers of 32·32+32, 32·32+32, 4·32+4 = 2244) instead of four.
  const semantic = countParameters(sam.architecture, config, 4);
  assert.equal(count.byGroup.decoder - semantic.byGroup.decoder, 1188 - 3 * 2244);
  tf.dispose([images, output.masks, output.classLogits, again.masks, again.classLogits]);
  model.dispose();
  loaded.dispose();
  sam.dispose();
});
