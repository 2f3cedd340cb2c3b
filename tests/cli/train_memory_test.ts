/**
 * `mopeft train`'s memory options end to end on the tiny SAM: `--micro-batch` is recorded in the
 * run and gives the weights of whole batches; decoder-only training reuses its image embeddings
 * from the second epoch on, and `cache/` goes when the run ends unless `--keep-cache`.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { runCli } from "../_cli.ts";
import { maxAbsDiff } from "../_backends.ts";

const data = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "mopeft_memory_" });
const checkpoint = `${work}/sam_tiny.safetensors`;
await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));

// 22 tiles of 128 px in the fixture's training split: 6 steps of 4 per epoch (the last of 2).
async function train(out: string, extra: string[]): Promise<Record<string, unknown>> {
  const args = ["train", "--checkpoint", checkpoint, "--data", data, "--quiet", "--out", out];
  const result = await runCli([
    ...args,
    ...["--method", "decoder", "--steps", "8", "--batch-size", "4", "--lr", "3e-3", ...extra],
  ]);
  if (result.code !== 0) throw new Error(`train failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("--micro-batch is recorded and trains the weights of whole batches; the cache serves epoch 2 and is removed", async () => {
  const whole = await train(`${work}/whole`, ["--no-cache"]);
  const parts = await train(`${work}/parts`, ["--micro-batch", "3"]);
  assertEquals([whole.microBatch, parts.microBatch], [4, 3]);
  assertEquals(whole.embeddingCache, undefined);
  // Epoch 2's two steps (8 tiles) come from the cache.
  assertEquals(parts.embeddingCache, { hits: 8, misses: 22, memoryEntries: 22, diskEntries: 0 });
  const settings = JSON.parse(await Deno.readTextFile(`${work}/parts/run.json`));
  assertEquals(settings.microBatch, 3);
  const state = JSON.parse(await Deno.readTextFile(`${work}/parts/checkpoint/state.json`));
  assertEquals(state.options.microBatch, 3);
  ok(!(await exists(`${work}/parts/cache`)), "cache/ is removed at the end");
  const a = await readSafetensors(`${work}/whole/peft.safetensors`);
  const b = await readSafetensors(`${work}/parts/peft.safetensors`);
  // 8 Adam steps of 3e-3 move a weight by up to 0.024; rounding differences stay 1000 times below.
  for (const [name, tensor] of a) ok(maxAbsDiff(b.get(name)!.data, tensor.data) <= 2e-5, name);
  ok(Math.abs((whole.loss as number) - (parts.loss as number)) <= 1e-5);
});

Deno.test("--keep-cache leaves the embeddings past --cache-memory in cache/, one file per tile", async () => {
  const summary = await train(`${work}/kept`, ["--cache-memory", "0", "--keep-cache"]);
  assertEquals(summary.embeddingCache, { hits: 8, misses: 22, memoryEntries: 0, diskEntries: 22 });
  const files = [];
  for await (const item of Deno.readDir(`${work}/kept/cache`)) files.push(item.name);
  assertEquals(files.length, 22);
  ok(files.every((name) => /^[0-9a-f]{64}\.safetensors$/.test(name)), String(files[0]));
});
