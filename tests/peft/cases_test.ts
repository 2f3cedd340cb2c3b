/**
 * The shared table: every method × small model × configuration through the same checks.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { encodeImage } from "../../lib/encoder/image_encoder.ts";
import { LayeredWeights } from "../../lib/encoder/layered_weights.ts";
import { GateRecorder } from "../../lib/gate/recorder.ts";
import { mergeability, mergeIntoSam } from "../../lib/peft/merge.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { methodSpec } from "../../lib/peft/registry.ts";
import { loadPeftRun, savePeftRun } from "../../lib/peft/run_files.ts";
import { assertAllClose, maxAbsDiff, onBackend, take } from "../_backends.ts";
import {
  bitIdentical,
  CASES,
  randomImages,
  randomLabels,
  randomSam,
  snapshot,
  TestAdam,
  trainStep,
} from "./_helpers.ts";

await onBackend("wasm");

for (const c of CASES) {
  const spec = methodSpec(c.config.method);

  Deno.test(`${c.label}: a few steps lower the loss, only trained tensors change, memory stays flat`, () => {
    const sam = randomSam(c.size);
    const frozenBefore = snapshot(sam.names().map((n) => [n, sam.get(n)]));
    const model = PeftModel.create(sam, c.config, { numClasses: c.numClasses, seed: 3 });
    const trainedBefore = snapshot(model.trainableVariables());
    const images = randomImages(c.size, 2);
    const labels = randomLabels(c.size, 2, c.numClasses);
    const optimizer = new TestAdam(1e-2);
    const losses = [trainStep(model, optimizer, 0, images, labels)];
    const tensorsAfterFirstStep = tf.memory().numTensors;
    for (let step = 1; step < 4; step++) {
      losses.push(trainStep(model, optimizer, step, images, labels));
    }
    assertEquals(tf.memory().numTensors, tensorsAfterFirstStep, "tensor count moved across steps");
    assert(losses.at(-1)! < losses[0]!, `loss did not fall: ${losses.join(", ")}`);

    for (const name of sam.names()) {
      assert(
        bitIdentical(sam.get(name).dataSync() as Float32Array, frozenBefore.get(name)!),
        `frozen SAM tensor "${name}" changed`,
      );
    }
    const trainedAfter = snapshot(model.trainableVariables());
    for (const [name, before] of trainedBefore) {
      // A MoSA expert that no step drew is, rightly, untouched (tests/peft/mosa_test.ts).
      const expert = /blocks\.(\d+)\.adapter\.(down|up)\.experts\.(\d+)\./.exec(name);
      if (
        expert &&
        ![0, 1, 2, 3].some((step) =>
          model.mosaDraw(Number(expert[1]), { step, pass: 0 })![expert[2] as "down" | "up"] ===
            Number(expert[3])
        )
      ) continue;
      assert(
        !bitIdentical(before, trainedAfter.get(name)!),
        `trained tensor "${name}" did not change`,
      );
    }
    // Every variable is a PEFT, gate or decoder tensor (or the encoder, for full fine-tuning).
    for (const name of trainedBefore.keys()) {
      const allowed = name.startsWith("mask_decoder.") ||
        (spec.trainsEncoder && name.startsWith("image_encoder.")) ||
        /^encoder\.(blocks\.\d+\.(lora|prefix|vpt|adapter|gate)\.|(prefix|vpt)_reparam\.)/.test(
          name,
        );
      assert(allowed, `unexpected trainable tensor "${name}"`);
    }
    optimizer.dispose();
    model.dispose();
    tf.dispose([images, labels]);
    sam.dispose();
  });

  Deno.test(`${c.label}: save then load gives identical outputs`, async () => {
    const sam = randomSam(c.size);
    const model = PeftModel.create(sam, c.config, { numClasses: c.numClasses, seed: 4 });
    const images = randomImages(c.size, 1);
    const labels = randomLabels(c.size, 1, c.numClasses);
    const optimizer = new TestAdam(1e-2);
    // Two steps, so that LoRA's B and the adapter's up-projection are no longer zero.
    trainStep(model, optimizer, 0, images, labels);
    trainStep(model, optimizer, 1, images, labels);
    const dir = await Deno.makeTempDir();
    const fingerprint = {
      sha256: "ab".repeat(32),
      architecture: sam.architecture,
      file: "x.safetensors",
    };
    const classNames = Array.from({ length: c.numClasses }, (_, i) => `class${i}`);
    await savePeftRun(dir, model, { classNames, baseFingerprint: fingerprint });
    const { model: loaded, manifest } = await loadPeftRun(dir, sam, fingerprint);
    assertEquals(manifest.classNames, classNames);
    assertEquals(manifest.config, c.config);
    const expected = await take(model.forward(images));
    const actual = await take(loaded.forward(images));
    assertAllClose(actual, expected, 1e-5, "reloaded logits");
    // The stored form holds no reparameterisation MLP.
    const stored = [...(await loaded.exportTensors()).keys()];
    assert(!stored.some((name) => /reparam|embedding/.test(name)), "reparam tensors were stored");
    await Deno.remove(dir, { recursive: true });
    optimizer.dispose();
    tf.dispose([images, labels]);
    model.dispose();
    loaded.dispose();
    sam.dispose();
  });

  Deno.test(`${c.label}: merges into SAM exactly, or refuses with a reason`, async () => {
    const sam = randomSam(c.size);
    const model = PeftModel.create(sam, c.config, { numClasses: c.numClasses, seed: 5 });
    const check = mergeability(c.config);
    if (!check.mergeable) {
      assert(check.reason.length > 0);
      throws(() => mergeIntoSam(sam, c.config, new Map()), /Cannot merge method/);
    } else {
      // Non-zero B so that the merge has something to fold.
      for (const [name, variable] of model.trainableVariables()) {
        if (/lora\.(query|value)_b$/.test(name)) {
          variable.assign(tf.tidy(() => tf.randomNormal(variable.shape, 0, 0.1, "float32", 7)));
        }
      }
      const images = randomImages(c.size, 1);
      const unmerged = await take(encodeImage(model.weights(), images, model.extensions()));
      const merged = mergeIntoSam(sam, c.config, await model.exportTensors());
      const plain = new LayeredWeights(sam, merged);
      const folded = await take(encodeImage(plain, images));
      assertAllClose(folded, unmerged, 1e-4, "merged vs unmerged encoder output");
      tf.dispose([images, ...merged.values()]);
    }
    model.dispose();
    sam.dispose();
  });

  Deno.test(`${c.label}: identity at init where the method starts unchanged; gates in (0, 1)`, async () => {
    const sam = randomSam(c.size);
    const model = PeftModel.create(sam, c.config, { numClasses: c.numClasses, seed: 6 });
    const images = randomImages(c.size, 2);
    const recorder = new GateRecorder();
    const plain = await take(encodeImage(model.weights(), images));
    const extended = await take(encodeImage(model.weights(), images, model.extensions(recorder)));
    await recorder.collect();
    const startsUnchanged = !spec.gated &&
      spec.modules.every((m) => m === "lora" || m === "adapter");
    if (startsUnchanged) assert(maxAbsDiff(plain, extended) <= 1e-6, "not the identity at init");
    if (spec.gated) {
      assertEquals(recorder.images.length, 2);
      for (const image of recorder.images) {
        assertEquals(image.blocks.length, c.size.depth);
        for (const block of image.blocks) {
          assertEquals(Object.keys(block).sort(), [...spec.modules].sort());
          for (const value of Object.values(block)) assert(value > 0 && value < 1, `gate ${value}`);
        }
      }
    } else {
      assertEquals(recorder.images.length, 0);
    }
    tf.dispose(images);
    model.dispose();
    sam.dispose();
  });
}
