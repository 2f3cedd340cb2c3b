/**
 * The taped tail: as many final stages as fit beside the measured peak with room for one more
 * tape, never past a stage that was not measured; and the backends' limits.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { tapedTailFor, tensorMemoryLimit } from "../../lib/train/tape_budget.ts";
import { onBackend } from "../_backends.ts";

Deno.test("tapedTailFor: final stages whose heap (1.5x the peak, 2x each tape) fits in 80% of the limit", () => {
  // 2000 bytes: 1600 usable; the peak takes 450, each extra stage 200: stages 6 to 2 (5 more).
  const even = { tapeBytes: [100, 100, 100, 100, 100, 100, 100, 100], peakBytes: 300 };
  assertEquals(tapedTailFor(even, 2000), 6);
  // 1000 bytes: 800 usable, 350 after the peak: one stage more.
  assertEquals(tapedTailFor(even, 1000), 2);
  // Uneven tapes, from the end: 50 (100), then 200 (400) fit 1600 - 450 - 100 = 1050; 250 (500) too;
  // the next 10 (20) leaves 30 ... and the first 10 (20) 10.
  assertEquals(tapedTailFor({ tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 300 }, 2000), 6);
  assertEquals(tapedTailFor({ tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 300 }, 1500), 3);
  // Nothing beside the peak: only the last stage.
  assertEquals(tapedTailFor({ tapeBytes: [100, 100, 100], peakBytes: 600 }, 1000), 1);
  // A stage never taped (no gradient reached it) ends the tail, even with room left.
  assertEquals(tapedTailFor({ tapeBytes: [NaN, 10, 10, 10], peakBytes: 0 }, 1000), 3);
  // A chain of one stage.
  assertEquals(tapedTailFor({ tapeBytes: [100], peakBytes: 100 }, 1000), 1);
});

Deno.test("tensorMemoryLimit: the wasm heap's 4 GiB; on cpu, above the tensors alive", async () => {
  await onBackend("wasm");
  assertEquals(tensorMemoryLimit(), 4 * 2 ** 30);
  await onBackend("cpu");
  const limit = tensorMemoryLimit()!;
  assertEquals(limit > tf.memory().numBytes, true);
});
