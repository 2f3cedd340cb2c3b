import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  describeOutOfMemory,
  isOutOfMemory,
  OutOfMemoryError,
} from "../../lib/backend/out_of_memory.ts";
import { onBackend } from "../_backends.ts";

Deno.test("an allocation failure becomes one line: which memory, doing what, what to try", async () => {
  await onBackend("cpu");
  const failure = new RangeError("Array buffer allocation failed");
  assert(isOutOfMemory(failure));
  const described = describeOutOfMemory(failure, "training step 3 on 4 tiles", "try fewer");
  assert(described instanceof Error);
  assertEquals(
    described.message,
    "out of memory: JavaScript memory is full while training step 3 on 4 tiles; try fewer",
  );
  assertEquals(described.cause, failure);
  assert(described instanceof OutOfMemoryError);
  assertEquals(
    described.summary,
    "out of memory: JavaScript memory is full while training step 3 on 4 tiles",
  );
  assertEquals(described.message.includes("\n"), false);
  // Described once: a second description keeps the first (innermost) account.
  assertEquals(describeOutOfMemory(described, "another thing"), described);
});

Deno.test("other errors pass through unchanged; a wasm abort far below the heap's ceiling is not called memory", async () => {
  await onBackend("wasm");
  const plain = new Error("Cannot read label");
  assertEquals(describeOutOfMemory(plain, "training"), plain);
  // The heap of a fresh backend is far from 4 GiB: an abort there is some other failure.
  const abort = new WebAssembly.RuntimeError("Aborted(). Build with -sASSERTIONS for more info.");
  assertEquals(isOutOfMemory(abort), false);
  assertEquals(describeOutOfMemory(abort), abort);
});
