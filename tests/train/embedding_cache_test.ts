/**
 * The embedding cache returns the encoder's own outputs bit for bit (from memory and from disk;
 * compared with the encoder run on the same groups of tiles, since a product of another shape may
 * differ in its last bits),
 * finds what a stopped run left on disk, keeps scopes apart, and training with it ends with the
 * weights of training without it.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { EmbeddingCache } from "../../lib/train/embedding_cache.ts";
import { tilesToBatch } from "../../lib/train/tile_batch.ts";
import { train } from "../../lib/train/trainer.ts";
import { assertAllClose, assertSameRun, onBackend, TRAINED } from "../_backends.ts";
import { bitIdentical, randomSam, snapshot } from "../peft/_helpers.ts";
import { SOAK_SIZE } from "./_soak.ts";

await onBackend("wasm");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));
const reader = () => new SegmentationReader(split, { size: SOAK_SIZE.imageSize, seed: 4 });

function decoderModel() {
  const sam = randomSam(SOAK_SIZE);
  const model = PeftModel.create(sam, validatePeftConfig({ method: "decoder" }), {
    numClasses: 3,
    seed: 2,
  });
  return { model, dispose: () => (model.dispose(), sam.dispose()) };
}

async function firstBatch(size: number) {
  for await (const tiles of reader().batches(size, 0)) return tiles;
  throw new Error("no batch");
}

Deno.test("the cache gives the encoder's outputs bit for bit, from memory and from disk, and finds a stopped run's files", async () => {
  const { model, dispose } = decoderModel();
  const encode = model.frozenSplit()!.features;
  const tiles = await firstBatch(5);
  const { images, labels } = tilesToBatch(tiles);
  const direct = tf.tidy(() => encode(images));
  // The cache encodes its misses in groups of 2: the encoder on the same groups, tile for tile.
  const grouped = tf.tidy(() =>
    tf.concat([[0, 1], [2, 3], [4]].map((rows) => encode(tf.gather(images, rows))))
  );
  const expected = (await grouped.data()) as Float32Array;
  // Each group's products have another shape than one batch of 5: equal within float32 rounding.
  assertAllClose(expected, (await direct.data()) as Float32Array, 1e-5, "groups of 2 vs 5");
  const dir = await Deno.makeTempDir();
  // What the on-disk cache computed: a resumed run must read these very bits.
  let stored: Float32Array = new Float32Array();
  try {
    for (const memoryBytes of [2 ** 30, 0]) {
      const cache = new EmbeddingCache({ scope: "tiny", memoryBytes, dir: `${dir}/cache` });
      const computed = await cache.features(tiles, encode, images, 2);
      const cached = await cache.features(tiles, encode, images, 2);
      assertEquals(cached.shape, direct.shape);
      const values = (await computed.data()) as Float32Array;
      // Bit for bit in a process of its own (see assertSameRun).
      assertSameRun(values, expected, "computed");
      assert(
        bitIdentical((await cached.data()) as Float32Array, values),
        `cached (${memoryBytes})`,
      );
      stored = values;
      assertEquals(cache.stats.misses, 5);
      assertEquals(cache.stats.hits, 5);
      assertEquals(cache.stats.diskEntries, memoryBytes === 0 ? 5 : 0);
      tf.dispose([computed, cached]);
    }
    // What a stopped run held in memory goes to disk too...
    const inMemory = new EmbeddingCache({ scope: "tiny", dir: `${dir}/stopped` });
    tf.dispose(await inMemory.features(tiles, encode, images));
    assertEquals(inMemory.stats.diskEntries, 0);
    await inMemory.persist();
    assertEquals(inMemory.stats.diskEntries, 5);
    // ...and a new cache on the same folder (a resumed run) finds every tile on disk...
    const resumed = new EmbeddingCache({ scope: "tiny", memoryBytes: 0, dir: `${dir}/cache` });
    const again = await resumed.features(tiles, () => {
      throw new Error("nothing should be computed");
    }, images);
    assert(bitIdentical((await again.data()) as Float32Array, stored));
    assertEquals([resumed.stats.hits, resumed.stats.misses], [5, 0]);
    // ...but not under another scope (another checkpoint or input size).
    const other = new EmbeddingCache({ scope: "other", memoryBytes: 0, dir: `${dir}/cache` });
    const recomputed = await other.features(tiles, encode, images);
    assertEquals([other.stats.hits, other.stats.misses], [0, 5]);
    await other.remove();
    assert(!(await Deno.stat(`${dir}/cache`).then(() => true, () => false)), "cache/ removed");
    tf.dispose([again, recomputed]);
  } finally {
    tf.dispose([images, labels!, direct, grouped]);
    dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("training with the embedding cache (in memory and on disk) ends with the weights of training without it", async () => {
  // 209 tiles of 32 px in the fixture: one epoch is 52 steps of 4 and one of 1, so the 5 steps
  // of epoch 2 reuse 20 tiles.
  const options = { batchSize: 4, maxSteps: 58, learningRate: 1e-3 };
  const results = [];
  const dir = await Deno.makeTempDir();
  try {
    // The last size holds 40 tiles' embeddings ([16, 2, 2] float32) in memory, the rest on disk.
    for (const memoryBytes of [undefined, 2 ** 30, 40 * SOAK_SIZE.outChans * 2 * 2 * 4]) {
      const { model, dispose } = decoderModel();
      tf.dispose(model.forward(tf.zeros([1, 32, 32, 3]) as Tensor4D));
      const losses: number[] = [];
      const embeddingCache = memoryBytes === undefined
        ? undefined
        : new EmbeddingCache({ scope: "tiny", memoryBytes, dir: `${dir}/${memoryBytes}` });
      await train(model, reader(), {
        ...options,
        embeddingCache,
        onLog: (record) => void losses.push(record.loss),
      });
      if (embeddingCache) {
        assertEquals(embeddingCache.stats.misses, 209);
        assertEquals(embeddingCache.stats.hits, 5 * 4);
      }
      results.push({
        losses,
        weights: snapshot(model.trainableVariables()),
        cache: embeddingCache,
      });
      dispose();
    }
    assert(results[2]!.cache!.stats.diskEntries > 100, "most entries went to disk");
    // A tile of epoch 2 comes from the cache as it was encoded in its epoch-1 batch, but is
    // encoded in another batch (of another size, for the last tile of epoch 1) without the cache:
    // OpenBLAS keeps no promise on the last bits across batches, so equal within float32 rounding.
    const [plain, ...cached] = results;
    for (const result of cached) {
      assertSameRun(result.losses, plain!.losses, "losses");
      for (const [name, values] of plain!.weights) {
        assertSameRun(result.weights.get(name)!, values, name, TRAINED);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
