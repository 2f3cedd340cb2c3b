/**
 * The taped tail: as many final stages as fit beside the measured peak with room for one more
 * tape, never past a stage that was not measured; and the backends' limits.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { tapedTailFor, tensorMemoryLimit } from "../../lib/train/tape_budget.ts";
import { onBackend } from "../_backends.ts";

Deno.test("tapedTailFor: final stages whose tapes fit in 75% of the limit, beside one spare tape", () => {
  // 1000 bytes: 750 usable; peak 300 and a spare 100 leave 350 for stages 4, 3, 2.
  assertEquals(
    tapedTailFor({ tapeBytes: [100, 100, 100, 100, 100, 100], peakBytes: 300 }, 1000),
    4,
  );
  // The spare tape is the largest (250): 750 - 300 - 250 = 200 holds stage 4 (50), not 3 (200).
  assertEquals(tapedTailFor({ tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 300 }, 1000), 2);
  // With 1100 bytes (825 usable, 275 left) stage 3 fits too.
  assertEquals(tapedTailFor({ tapeBytes: [10, 10, 250, 200, 50, 90], peakBytes: 300 }, 1100), 3);
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
