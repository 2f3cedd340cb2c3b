/**
 * 200 training steps in micro-batches, and 200 decoder-only steps served by the embedding cache
 * (memory and disk; about four epochs of the fixture), leak no tensor and no byte (see _soak.ts).
 */
import { ok as assert } from "node:assert/strict";
import { EmbeddingCache } from "../../lib/train/embedding_cache.ts";
import { soak } from "./_soak.ts";

Deno.test("wasm: 200 MoPEFT steps of 2 tiles in micro-batches of 1 hold the tensors and bytes of step 10", async () => {
  const { settled, losses } = await soak("wasm", { batchSize: 2, microBatch: 1 });
  assert(losses.every(Number.isFinite), "a loss was not finite");
  console.log(
    `micro-batches: ${settled.numTensors} tensors, ${settled.numBytes} B from step 10 to 200`,
  );
});

Deno.test("wasm: 200 decoder-only steps from the embedding cache hold the tensors and bytes of step 10", async () => {
  const dir = await Deno.makeTempDir();
  // 209 tiles of 32 px, 53 steps of 4 (the last of 1) an epoch: 200 steps are 3 epochs and 41
  // steps, 791 tiles. 100 tiles' embeddings ([16, 2, 2] float32) in memory, the rest on disk.
  const cache = new EmbeddingCache({ scope: "soak", memoryBytes: 100 * 256, dir });
  try {
    const { settled } = await soak("wasm", {
      method: "decoder",
      batchSize: 4,
      embeddingCache: cache,
    });
    const { hits, misses, diskEntries } = cache.stats;
    assert(
      misses === 209 && hits === 791 - 209 && diskEntries === 109,
      JSON.stringify(cache.stats),
    );
    console.log(`cache: ${settled.numTensors} tensors, ${settled.numBytes} B from step 10 to 200`);
  } finally {
    await cache.remove();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
