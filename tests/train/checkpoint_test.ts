import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainingCheckpoint,
} from "../../lib/train/checkpoint.ts";

function state(step: number): TrainingCheckpoint {
  const data = Float32Array.from([step, 1, 2, 3, 4, 5]);
  return {
    step,
    epoch: 1,
    batchInEpoch: 2,
    seed: 3,
    options: { batchSize: 4 },
    variables: new Map([["w", { shape: [2, 3], data }]]),
    optimizer: {
      step,
      moments: new Map([["w", { m: data.map((x) => x / 2), v: data.map((x) => x * x) }]]),
    },
  };
}

Deno.test("saveTrainingCheckpoint() round-trips and replaces the previous checkpoint whole", async () => {
  const dir = await Deno.makeTempDir();
  assertEquals(await loadTrainingCheckpoint(dir), null);
  await saveTrainingCheckpoint(dir, state(1));
  await saveTrainingCheckpoint(dir, state(2));
  assertEquals(await loadTrainingCheckpoint(dir), state(2));
  const entries = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
  assertEquals(entries, ["checkpoint"]);
  const files = [];
  for await (const entry of Deno.readDir(`${dir}/checkpoint`)) files.push(entry.name);
  assertEquals(files.sort(), ["state.json", "state.safetensors"]);
  // A kill between the two renames leaves only checkpoint.old: it is still found.
  await Deno.rename(`${dir}/checkpoint`, `${dir}/checkpoint.old`);
  assertEquals((await loadTrainingCheckpoint(dir))!.step, 2);
  await Deno.remove(dir, { recursive: true });
});
