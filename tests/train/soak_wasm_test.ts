/**
 * 200 MoPEFT training steps on the wasm backend leak no tensor and no byte (see _soak.ts; one file
 * per backend so that `deno test --parallel` runs them side by side).
 */
import { ok as assert } from "node:assert/strict";
import { soak } from "./_soak.ts";

Deno.test("wasm: 200 MoPEFT training steps hold the tensors and bytes of step 10", async () => {
  const { settled, losses } = await soak("wasm");
  assert(losses.every(Number.isFinite), "a loss was not finite");
  console.log(`wasm: ${settled.numTensors} tensors, ${settled.numBytes} B from step 10 to 200`);
});
