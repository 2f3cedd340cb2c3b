import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { batchesOf } from "../../lib/data/batches.ts";

async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

Deno.test("batchesOf() groups in order, the last batch smaller", async () => {
  const batches: number[][] = [];
  for await (const batch of batchesOf(count(7), 3)) batches.push(batch);
  assertEquals(batches, [[0, 1, 2], [3, 4, 5], [6]]);
  const none: number[][] = [];
  for await (const batch of batchesOf(count(0), 3)) none.push(batch);
  assertEquals(none, []);
});

Deno.test("batchesOf() refuses a batch size that is not a positive integer", () => {
  for (const size of [0, -1, 2.5]) {
    assertThrows(() => batchesOf(count(3), size), /Batch size must be a positive integer/);
  }
});
