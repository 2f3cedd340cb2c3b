import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { chooseMicroBatch, estimateStepMemory } from "../../lib/train/memory_budget.ts";

const GIB = 2 ** 30;
const HEAP = 4 * GIB;
// vit_b: 93.7 M values, 375 MB of float32 weights.
const VIT_B = { patchSize: 16, embedDim: 768, depth: 12, modelBytes: 375e6 };

Deno.test("the step estimate reproduces the vit_b heap figures it was fitted to", () => {
  const mopeft = (imageSize: number, tiles: number) => {
    const { fixedBytes, perTileBytes } = estimateStepMemory({
      ...VIT_B,
      imageSize,
      encoderTrains: true,
    });
    return (fixedBytes + tiles * perTileBytes) / GIB;
  };
  // Measured: 2.8 GiB at 1024 px batch 1, 1.6 GiB at 256 px batch 4.
  assertEquals(Math.round(mopeft(1024, 1) * 10) / 10, 2.8);
  assertEquals(Math.round(mopeft(256, 4) * 10) / 10, 1.6);
  const decoder = (imageSize: number, tiles: number) => {
    const { fixedBytes, perTileBytes } = estimateStepMemory({
      ...VIT_B,
      imageSize,
      encoderTrains: false,
    });
    return (fixedBytes + tiles * perTileBytes) / GIB;
  };
  // Measured: 1.2 GiB at 1024 px batch 1, 770 MiB at 256 px batch 4.
  assertEquals(Math.round(decoder(1024, 1) * 10) / 10, 1.2);
  assertEquals(Math.round(decoder(256, 4) * 100) / 100, 0.77);
});

Deno.test("chooseMicroBatch() keeps the whole batch when it fits and splits it when not", () => {
  const at = (imageSize: number, encoderTrains: boolean) =>
    estimateStepMemory({ ...VIT_B, imageSize, encoderTrains });
  // 1024 px, encoder training: (3.6 - 1.19) / 1.59 GiB per tile -> 1 tile per pass.
  assertEquals(chooseMicroBatch(4, at(1024, true), HEAP), 1);
  // 512 px: (3.6 - 1.19) / 0.40 GiB per tile -> 6 tiles fit, so batch 4 runs whole.
  assertEquals(chooseMicroBatch(4, at(512, true), HEAP), 4);
  assertEquals(chooseMicroBatch(8, at(512, true), HEAP), 6);
  // Decoder only at 1024 px: 0.63 + 4 x 0.57 GiB fits.
  assertEquals(chooseMicroBatch(4, at(1024, false), HEAP), 4);
  // Never below one tile, even when one does not fit.
  assertEquals(chooseMicroBatch(4, at(1024, true), GIB), 1);
});
