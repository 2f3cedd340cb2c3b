import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { summariseTimings } from "../../lib/bench/timing_summary.ts";

Deno.test("summariseTimings() gives min, median and max, keeping the samples in order", () => {
  assertEquals(summariseTimings([30, 10, 20]), {
    minMs: 10,
    medianMs: 20,
    maxMs: 30,
    samplesMs: [30, 10, 20],
  });
  assertEquals(summariseTimings([4, 1, 2, 3]).medianMs, 2.5);
  assertEquals(summariseTimings([1.26]).medianMs, 1.3);
  throws(() => summariseTimings([]), RangeError);
});
