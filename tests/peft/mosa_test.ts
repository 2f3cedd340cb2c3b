/**
 * MoSA as its reference code trains it: K expert copies per split projection with fixed
 * disjoint masks, per-step per-block draws, forward through the drawn copies, updates only of
 * their own entries, the mean of the copies for evaluation and export.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { type PeftConfig, validatePeftConfig } from "../../lib/peft/config.ts";
import { mosaAssignment, mosaDraw, mosaExpertLocal } from "../../lib/peft/mosa.ts";
import { PeftModel, type TensorValues } from "../../lib/peft/peft_model.ts";
import { loadPeftRun } from "../../lib/peft/run_files.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import type { TrainingCheckpoint } from "../../lib/train/checkpoint.ts";
import { train } from "../../lib/train/trainer.ts";
import { assertAllClose, assertSameRun, onBackend, take, TRAINED } from "../_backends.ts";
import {
  bitIdentical,
  randomImages,
  randomSam,
  SMALL_B_SIZE,
  SMALL_CONFIG,
  snapshot,
} from "./_helpers.ts";

await onBackend("wasm");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));
const reader = () => new SegmentationReader(split, { size: SMALL_B_SIZE.imageSize, seed: 4 });
const DEPTH = SMALL_B_SIZE.depth;

function mosaConfig(overrides: Partial<PeftConfig> = {}): PeftConfig {
  return validatePeftConfig({ method: "mosa", ...SMALL_CONFIG, ...overrides });
}

function expertName(block: number, projection: "down" | "up", expert: number, tensor: string) {
  return `encoder.blocks.${block}.adapter.${
    mosaExpertLocal(projection, expert, tensor as "weight")
  }`;
}

Deno.test("mosaAssignment() splits entries into disjoint parts that cover them, evenly", () => {
  const assignment = mosaAssignment(1001, 4, 7);
  const sizes = [0, 0, 0, 0];
  for (const part of assignment) sizes[part]! += 1;
  assertEquals(sizes.reduce((a, b) => a + b, 0), 1001);
  assert(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  assertEquals(mosaAssignment(1001, 4, 7), assignment, "not deterministic");
  assert(mosaAssignment(1001, 4, 8).some((p, i) => p !== assignment[i]), "seed ignored");
});

Deno.test("mosaDraw() is a pure function of (seed, step, block, pass) and draws every expert", () => {
  const seen = new Set<number>();
  let passesDiffer = 0;
  for (let step = 0; step < 50; step++) {
    const at = { seed: 3, step, block: 1, pass: 0 };
    const draw = mosaDraw(4, at);
    assertEquals(mosaDraw(4, { ...at }), draw);
    seen.add(draw.down).add(draw.up);
    const second = mosaDraw(4, { ...at, pass: 1 });
    if (second.down !== draw.down || second.up !== draw.up) passesDiffer++;
  }
  assertEquals([...seen].sort(), [0, 1, 2, 3]);
  assert(
    passesDiffer > 25,
    `the second pass drew pass 0's experts in ${50 - passesDiffer}/50 steps`,
  );
});

Deno.test("MoSA holds K copies of each split projection (share down: up only), one initial value", () => {
  const sam = randomSam(SMALL_B_SIZE);
  for (const share of ["down", "up", "none"] as const) {
    const model = PeftModel.create(sam, mosaConfig({ mosaShare: share }), {
      numClasses: 2,
      seed: 2,
    });
    const names = [...model.trainableVariables().keys()].filter((n) => n.includes(".adapter."));
    const split = share === "down" ? ["up"] : share === "up" ? ["down"] : ["down", "up"];
    const expected: string[] = [];
    for (let block = 0; block < DEPTH; block++) {
      for (const projection of ["down", "up"] as const) {
        for (const tensor of ["weight", "bias"]) {
          if (!split.includes(projection)) {
            expected.push(`encoder.blocks.${block}.adapter.${projection}.${tensor}`);
          } else {
            for (let k = 0; k < 3; k++) expected.push(expertName(block, projection, k, tensor));
          }
        }
      }
    }
    assertEquals(names.sort(), expected.sort(), `share ${share}`);
    const variables = model.trainableVariables();
    for (const projection of split as ("down" | "up")[]) {
      const first = variables.get(expertName(0, projection, 0, "weight"))!.dataSync();
      for (let k = 1; k < 3; k++) {
        const copy = variables.get(expertName(0, projection, k, "weight"))!.dataSync();
        assert(
          bitIdentical(first as Float32Array, copy as Float32Array),
          `${projection} copy ${k}`,
        );
      }
      assertEquals(first.some((v) => v !== 0), projection === "down", `${projection} init`);
    }
    model.dispose();
  }
  sam.dispose();
});

/** Every adapter variable moved to a distinct random value, so that the copies differ. */
function scramble(model: PeftModel): void {
  let seed = 40;
  for (const [name, variable] of model.trainableVariables()) {
    if (!name.includes(".adapter.")) continue;
    variable.assign(tf.tidy(() => tf.randomNormal(variable.shape, 0, 0.3, "float32", seed++)));
  }
}

/** The inference-form tensors of `model` with each split projection replaced by `pick`'s copy. */
async function withCopies(
  model: PeftModel,
  pick: (block: number, projection: "down" | "up") => number | "mean",
): Promise<TensorValues> {
  const tensors = await model.exportTensors();
  const variables = snapshot(model.trainableVariables());
  for (let block = 0; block < DEPTH; block++) {
    for (const projection of ["down", "up"] as const) {
      for (const tensor of ["weight", "bias"]) {
        if (!variables.has(expertName(block, projection, 0, tensor))) continue;
        const choice = pick(block, projection);
        const copies = Array.from(
          { length: model.config.mosaParts },
          (_, k) => variables.get(expertName(block, projection, k, tensor))!,
        );
        const data = choice === "mean"
          ? Float32Array.from(
            copies[0]!,
            (_, i) => copies.reduce((sum, copy) => sum + copy[i]!, 0) / copies.length,
          )
          : copies[choice]!;
        const name = `encoder.blocks.${block}.adapter.${projection}.${tensor}`;
        tensors.set(name, { shape: tensors.get(name)!.shape, data });
      }
    }
  }
  return tensors;
}

Deno.test("MoSA's forward runs through the drawn copies; evaluation and export use their mean", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const config = mosaConfig({ mosaShare: "none" });
  const model = PeftModel.create(sam, config, { numClasses: 2, seed: 2 });
  scramble(model);
  const images = randomImages(SMALL_B_SIZE, 2);
  for (const pass of [{ step: 5, pass: 0 }, { step: 5, pass: 1 }, { step: 9, pass: 0 }]) {
    model.prepareTrainingPass(pass);
    const actual = await take(model.forward(images));
    model.prepareTrainingPass(undefined);
    const plain = PeftModel.fromTensors(
      sam,
      config,
      { numClasses: 2, seed: 2 },
      await withCopies(model, (block, projection) => model.mosaDraw(block, pass)![projection]),
    );
    assertAllClose(actual, await take(plain.forward(images)), 1e-5, `pass ${JSON.stringify(pass)}`);
    plain.dispose();
  }
  // Export: each split projection is (1/K) x the sum of its copies, weights and biases.
  const exported = await model.exportTensors();
  const mean = await withCopies(model, () => "mean");
  assertEquals([...exported.keys()].sort(), [...mean.keys()].sort());
  for (const [name, { data }] of mean) {
    assertAllClose(exported.get(name)!.data, data, 1e-6, name);
  }
  // The same names and shapes as a plain adapter run.
  const adapter = PeftModel.create(
    sam,
    validatePeftConfig({ method: "adapter", ...SMALL_CONFIG }),
    {
      numClasses: 2,
      seed: 2,
    },
  );
  const plainExport = await adapter.exportTensors();
  assertEquals(
    [...exported].map(([name, t]) => [name, t.shape]).sort(),
    [...plainExport].map(([name, t]) => [name, t.shape]).sort(),
  );
  adapter.dispose();
  // With no pass prepared (evaluation) the model runs the merged adapter.
  const merged = PeftModel.fromTensors(sam, config, { numClasses: 2, seed: 2 }, exported);
  assertAllClose(
    await take(model.forward(images)),
    await take(merged.forward(images)),
    1e-5,
    "evaluation",
  );
  merged.dispose();
  images.dispose();
  model.dispose();
  sam.dispose();
});

Deno.test("MoSA: a training step changes only the drawn copies, each only on its own entries", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  // Both projections split, the consistency term on: two passes draw per block and step.
  const config = mosaConfig({ mosaShare: "none", mosaConsistency: 1 });
  const model = PeftModel.create(sam, config, { numClasses: 3, seed: 6 });
  let before = snapshot(model.trainableVariables());
  const failures: string[] = [];
  let learnedEntries = 0;
  let untouched = 0;
  const tensorCounts: number[] = [];
  await train(model, reader(), {
    batchSize: 2,
    maxSteps: 3,
    learningRate: 1e-2,
    onLog: (record) => {
      tensorCounts.push(tf.memory().numTensors);
      const step = record.step - 1;
      const after = snapshot(model.trainableVariables());
      for (let block = 0; block < DEPTH; block++) {
        for (const projection of ["down", "up"] as const) {
          const drawn = new Set(
            [0, 1].map((pass) => model.mosaDraw(block, { step, pass })![projection]),
          );
          const assignment = model.mosaAssignment(block, projection)!;
          for (let k = 0; k < 3; k++) {
            const weight = expertName(block, projection, k, "weight");
            const bias = expertName(block, projection, k, "bias");
            if (!drawn.has(k)) {
              untouched++;
              if (!bitIdentical(before.get(weight)!, after.get(weight)!)) {
                failures.push(`step ${step}: undrawn ${weight} changed`);
              }
              if (!bitIdentical(before.get(bias)!, after.get(bias)!)) {
                failures.push(`step ${step}: undrawn ${bias} changed`);
              }
              continue;
            }
            const a = after.get(weight)!, b = before.get(weight)!;
            for (let i = 0; i < a.length; i++) {
              if (a[i] === b[i]) continue;
              if (assignment[i] !== k) {
                failures.push(`step ${step}: ${weight}[${i}] is not its own`);
              } else learnedEntries++;
            }
          }
        }
      }
      before = after;
    },
  });
  assert(failures.length === 0, failures.slice(0, 5).join("\n"));
  assertEquals(new Set(tensorCounts).size, 1, `tensor counts ${tensorCounts}: a step leaks`);
  assert(untouched > 0, "every expert was drawn at every step: the test shows nothing");
  assert(learnedEntries > 0, "no drawn expert learned");
  model.dispose();
  sam.dispose();
});

/** Trains `config` for `steps` on the fixtures; the losses and the final trained tensors. */
async function trainRun(config: PeftConfig, steps: number) {
  const sam = randomSam(SMALL_B_SIZE);
  const model = PeftModel.create(sam, config, { numClasses: 3, seed: 8 });
  const losses: number[] = [];
  await train(model, reader(), {
    batchSize: 2,
    maxSteps: steps,
    learningRate: 1e-2,
    onLog: (record) => void losses.push(record.loss),
  });
  const exported = await model.exportTensors();
  model.dispose();
  sam.dispose();
  return { losses, exported };
}

Deno.test("MoSA with K = 1 and no consistency term trains exactly as a plain adapter", async () => {
  const adapter = await trainRun(validatePeftConfig({ method: "adapter", ...SMALL_CONFIG }), 3);
  for (const share of ["down", "none"] as const) {
    const mosa = await trainRun(
      mosaConfig({ mosaParts: 1, mosaConsistency: 0, mosaShare: share }),
      3,
    );
    assertSameRun(mosa.losses, adapter.losses, `losses, share ${share}`);
    assertEquals([...mosa.exported.keys()], [...adapter.exported.keys()]);
    for (const [name, { data }] of adapter.exported) {
      assertSameRun(mosa.exported.get(name)!.data, data, `${name}, share ${share}`, TRAINED);
    }
  }
});

Deno.test("MoSA resumed from a checkpoint draws the same experts and ends with the same weights", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const config = mosaConfig(); // share down, consistency 1: the defaults but K = 3
  const options = { batchSize: 2, maxSteps: 4, learningRate: 1e-2 };
  const straight = PeftModel.create(sam, config, { numClasses: 3, seed: 8 });
  await train(straight, reader(), options);
  const expected = snapshot(straight.trainableVariables());
  straight.dispose();

  const controller = new AbortController();
  let saved: TrainingCheckpoint | undefined;
  const first = PeftModel.create(sam, config, { numClasses: 3, seed: 8 });
  await train(first, reader(), {
    ...options,
    signal: controller.signal,
    onCheckpoint: (state) => void (saved = state),
    onLog: (record) => record.step === 2 && controller.abort(),
  });
  first.dispose();
  assertEquals(saved!.step, 2);
  const resumed = PeftModel.create(sam, config, { numClasses: 3, seed: 8 });
  await train(resumed, reader(), { ...options, resumeFrom: saved });
  const actual = snapshot(resumed.trainableVariables());
  for (const [name, values] of expected) assertSameRun(actual.get(name)!, values, name, TRAINED);
  resumed.dispose();
  sam.dispose();
});

Deno.test("a MoSA run written before expert copies (one plain adapter, older peft.json) still loads", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const adapter = PeftModel.create(
    sam,
    validatePeftConfig({ method: "adapter", ...SMALL_CONFIG }),
    {
      numClasses: 2,
      seed: 3,
    },
  );
  scramble(adapter);
  const dir = await Deno.makeTempDir();
  const fingerprint = { sha256: "ab".repeat(32), architecture: sam.architecture };
  await writeSafetensors(`${dir}/peft.safetensors`, await adapter.exportTensors(), {
    metadata: { format: "mopeft-peft", method: "mosa" },
  });
  const { mosaShare: _share, mosaConsistency: _weight, ...olderConfig } = mosaConfig();
  await Deno.writeTextFile(
    `${dir}/peft.json`,
    JSON.stringify({
      format: "mopeft-peft",
      version: 1,
      method: "mosa",
      config: olderConfig,
      classNames: ["a", "b"],
      seed: 3,
      baseCheckpoint: fingerprint,
    }),
  );
  const { model, manifest } = await loadPeftRun(dir, sam, fingerprint);
  assertEquals(manifest.mosa, undefined, "an older run claims MoSA rules it was not trained with");
  const images = randomImages(SMALL_B_SIZE, 1);
  assertAllClose(await take(model.forward(images)), await take(adapter.forward(images)), 1e-6);
  images.dispose();
  model.dispose();
  adapter.dispose();
  await Deno.remove(dir, { recursive: true });
  sam.dispose();
});
