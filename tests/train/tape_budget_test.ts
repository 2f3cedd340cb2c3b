/**
 * The taped tail: as many final stages as fit beside the measured peak with room for one more
 * tape, never past a stage that was not measured; and the backends' limits.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { tapedTailFor, tensorMemoryLimit } from "../../lib/train/tape_budget.ts";
import { onBackend } from "../_backends.ts";

Deno.test("tapedTailFor: final stages whose tapes fit in 80% of the limit, beside one spare tape", () => {
  // 1000 bytes: 800 usable; peak 300 and a spare 100 leave 400 for stages 4, 3, 2, 1.
  assertEquals(
    tapedTailFor({ tapeBytes: [100, 100, 100, 100, 100, 100], peakBytes: 300 }, 1000),
    5,
  );
  // The spare tape is the largest (250): 800 - 300 - 250 = 250 holds stage 4 (50) and 3 (200).
  assertEquals(tapedTailFor({ tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 300 }, 1000), 3);
  // Nothing beside the peak: only the last stage.
  assertEquals(tapedTailFor({ tapeBytes: [100, 100, 100], peakBytes: 700 }, 1000), 1);
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
