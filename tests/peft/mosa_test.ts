/** MoSA: disjoint covering parts, one active part per block and step, merged = trained. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { mosaActiveParts, mosaAssignment } from "../../lib/peft/mosa.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { onBackend } from "../_backends.ts";
import {
  randomImages,
  randomLabels,
  randomSam,
  SMALL_B_SIZE,
  SMALL_CONFIG,
  snapshot,
  TestAdam,
  trainStep,
} from "./_helpers.ts";

await onBackend("wasm");

Deno.test("mosaAssignment() splits entries into disjoint parts that cover them, evenly", () => {
  const assignment = mosaAssignment(1001, 4, 7);
  const sizes = [0, 0, 0, 0];
  for (const part of assignment) sizes[part]! += 1;
  assertEquals(sizes.reduce((a, b) => a + b, 0), 1001);
  assert(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  assertEquals(mosaAssignment(1001, 4, 7), assignment, "not deterministic");
  assert(mosaAssignment(1001, 4, 8).some((p, i) => p !== assignment[i]), "seed ignored");
});

Deno.test("mosaActiveParts() is a pure function of (seed, step, block) and uses every part", () => {
  const seen = new Set<number>();
  for (let step = 0; step < 50; step++) {
    const parts = mosaActiveParts(4, { step, block: 1, seed: 3 });
    assertEquals(mosaActiveParts(4, { step, block: 1, seed: 3 }), parts);
    seen.add(parts.down).add(parts.up);
  }
  assertEquals([...seen].sort(), [0, 1, 2, 3]);
});

Deno.test("MoSA: a training step changes only the active part of each adapter tensor", () => {
  const sam = randomSam(SMALL_B_SIZE);
  const config = validatePeftConfig({ method: "mosa", ...SMALL_CONFIG });
  const model = PeftModel.create(sam, config, { numClasses: 2, seed: 2 });
  const images = randomImages(SMALL_B_SIZE, 1);
  const labels = randomLabels(SMALL_B_SIZE, 1, 2);
  const optimizer = new TestAdam(1e-2);
  for (let step = 0; step < 3; step++) {
    const before = snapshot(model.trainableVariables());
    const masks = model.gradientMasks(step)!;
    const active = new Map([...masks].map(([name, mask]) => [name, mask.dataSync().slice()]));
    tf.dispose([...masks.values()]);
    trainStep(model, optimizer, step, images, labels);
    const after = snapshot(model.trainableVariables());
    let changed = 0;
    for (const [name, mask] of active) {
      const assignment = model.mosaAssignment(name)!;
      const block = Number(/blocks\.(\d+)\./.exec(name)![1]);
      const parts = [...new Set(assignment)].sort();
      assertEquals(parts, [0, 1, 2], `"${name}" parts`);
      const part = /\.down\./.test(name)
        ? mosaActiveParts(3, { step, block, seed: 2 }).down
        : mosaActiveParts(3, { step, block, seed: 2 }).up;
      const b = before.get(name)!, a = after.get(name)!;
      for (let i = 0; i < a.length; i++) {
        assertEquals(mask[i], assignment[i] === part ? 1 : 0);
        if (a[i] !== b[i]) {
          changed++;
          assertEquals(mask[i], 1, `"${name}"[${i}] changed outside the active part`);
        }
      }
    }
    // From the second step on the up-projection is non-zero and the down part learns too.
    if (step > 0) assert(changed > 0, "no adapter entry changed");
  }
  optimizer.dispose();
  tf.dispose([images, labels]);
  model.dispose();
  sam.dispose();
});

Deno.test("MoSA exports one plain adapter equal to the trained tensors", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const config = validatePeftConfig({ method: "mosa", ...SMALL_CONFIG });
  const model = PeftModel.create(sam, config, { numClasses: 2, seed: 2 });
  const exported = await model.exportTensors();
  for (const [name, variable] of model.trainableVariables()) {
    assertEquals(exported.get(name)!.data, variable.dataSync());
  }
  assert([...exported.keys()].some((name) => name.endsWith("adapter.up.weight")));
  model.dispose();
  sam.dispose();
});
