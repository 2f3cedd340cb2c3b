/**
 * 200 MoPEFT training steps on the cpu backend leak no tensor and no byte (see _soak.ts; one file
 * per backend so that `deno test --parallel` runs them side by side).
 */
import { ok as assert } from "node:assert/strict";
import { soak } from "./_soak.ts";

Deno.test("cpu: 200 MoPEFT training steps hold the tensors and bytes of step 10", async () => {
  const { settled, losses } = await soak("cpu");
  assert(losses.every(Number.isFinite), "a loss was not finite");
  console.log(`cpu: ${settled.numTensors} tensors, ${settled.numBytes} B from step 10 to 200`);
});
