/**
 * The taped tail: as many final stages as fit beside the measured peak with room for one more
 * tape, never past a stage that was not measured; and the backends' limits.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { tapedTailFor, tensorMemoryLimit } from "../../lib/train/tape_budget.ts";
import { onBackend } from "../_backends.ts";

Deno.test("tapedTailFor: final stages whose heap (1.3x the peak, 0.95x each tape) fits in 85% of the limit", () => {
  // 2000 bytes: 1700 usable; the peak takes 650, each extra stage 95: every stage fits.
  const even = { tapeBytes: [100, 100, 100, 100, 100, 100, 100, 100], peakBytes: 500 };
  assertEquals(tapedTailFor(even, 2000), 8);
  // 1000 bytes: 850 usable, 200 after the peak: two stages more (190).
  assertEquals(tapedTailFor(even, 1000), 3);
  // Uneven tapes, from the end, at 2000 bytes (1050 after the peak): 50 (47.5), 200 (190), 250
  // (237.5), 10 (9.5) and 10 (9.5) all fit.
  const uneven = { tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 500 };
  assertEquals(tapedTailFor(uneven, 2000), 6);
  // 1300 bytes: 455 after the peak: 47.5 and 190, then 237.5 is too much.
  assertEquals(tapedTailFor(uneven, 1300), 3);
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
