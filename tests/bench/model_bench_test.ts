import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { useBackend } from "../../lib/backend/backend.ts";
import { tf } from "../../lib/backend/tf.ts";
import { benchModel } from "../../lib/bench/model_bench.ts";
import { randomSamWeights } from "../../lib/bench/random_weights.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";

Deno.test("benchModel() times every measurement and frees every tensor it makes", async () => {
  await useBackend("cpu");
  const weights = randomSamWeights({ ...TINY_SIZE, imageSize: 64 }, 1);
  try {
    // A first training step leaves one tensor that tfjs caches for good; count after it.
    await benchModel(weights, { batch: 1, methods: ["decoder"], runs: 1, warmup: 0 });
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const result = await benchModel(weights, {
      batch: 1,
      methods: ["decoder", "mosa", "mopeft"],
      runs: 2,
      warmup: 1,
      onProgress: (line) => lines.push(line),
    });
    assertEquals(tf.memory().numTensors, before);
    assertEquals(result.forward.samplesMs.length, 2);
    assertEquals(result.methods.map((m) => m.method), ["decoder", "mosa", "mopeft"]);
    for (const method of result.methods) {
      assertEquals(method.error, undefined);
      assertEquals(method.trainStep?.samplesMs.length, 2);
    }
    ok(result.methods[2]!.forward!.overPlain > 0);
    assertEquals(result.mopeftOverPlain, result.methods[2]!.forward!.overPlain);
    // 1 + 2 plain forwards, then per method 3 steps, and 3 forwards for methods with modules.
    assertEquals(lines.length, 3 + 3 * 3 + 2 * 3);
    ok(lines.includes(lines.find((l) => /^train step mosa warm-up 1\/1: /.test(l))!));
  } finally {
    weights.dispose();
  }
});
