/**
 * The PyTorch memory estimate: a fake probe whose memory follows the model exactly is recovered
 * exactly, noise that would give a negative coefficient falls back to an overestimate, and the
 * run is refused when the estimate and its margin exceed what is available.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  activationTerms,
  estimateTorchMemory,
  probeSizes,
  TORCH_MEMORY_MARGIN,
  torchMemoryRefusal,
} from "../../lib/bench/torch_memory.ts";

// vit_b's layout: windows of 14, global attention in blocks 2, 5, 8 and 11.
const VIT_B = {
  imageSize: 1024,
  patchSize: 16,
  blockWindowSizes: [14, 14, 0, 14, 14, 0, 14, 14, 0, 14, 14, 0],
};

Deno.test("activationTerms() counts padded window tokens and global query-key pairs", () => {
  // 256 px: a 16x16 grid, padded to 28x28 in the windowed blocks.
  assertEquals(activationTerms(VIT_B, 256), {
    linearTokens: 8 * 28 * 28 + 4 * 16 * 16,
    globalPairs: 4 * 256 * 256,
  });
  assertEquals(activationTerms({ ...VIT_B, blockWindowSizes: [14, 14] }, 256).globalPairs, 0);
  assertEquals(probeSizes(1024), [512, 768]);
  assertEquals(probeSizes(64), [32, 48]);
});

Deno.test("estimateTorchMemory() recovers a peak that follows its model, from small probes", async () => {
  const fixed = 700;
  const alpha = 0.002; // MiB per token summed over the blocks
  const beta = 3e-6; // MiB per global query-key pair
  const probes: [number, number][] = [];
  const peak = (imageSize: number, batch: number) => {
    const { linearTokens, globalPairs } = activationTerms(VIT_B, imageSize);
    return fixed + batch * (alpha * linearTokens + beta * globalPairs);
  };
  const estimate = await estimateTorchMemory(VIT_B, 4, (imageSize, batch) => {
    probes.push([imageSize, batch]);
    return Promise.resolve(peak(imageSize, batch));
  });
  // Nothing is run at the size asked about.
  assertEquals(probes, [[512, 2], [512, 4], [768, 2]]);
  assertEquals(estimate.probes.map((p) => [p.imageSize, p.batch]), probes);
  assertEquals(estimate.fixedMiB, fixed);
  ok(Math.abs(estimate.neededMiB - peak(1024, 4)) <= 1, JSON.stringify(estimate));
  assertEquals([estimate.imageSize, estimate.batch], [1024, 4]);
  ok(estimate.method.includes("512 px") && estimate.method.includes("768 px"));
});

Deno.test("estimateTorchMemory() grows a part with one term when the fit gives the other a negative weight", async () => {
  const run = (values: Record<string, number>) =>
    estimateTorchMemory(
      VIT_B,
      1,
      (imageSize, batch) => Promise.resolve(values[`${imageSize}x${batch}`]!),
    );
  const terms = (size: number) => activationTerms(VIT_B, size);
  // fixed 600 (a sample's part 400 at 512 px), 600 at 768 px: slower than tokens alone.
  const slow = await run({ "512x2": 1400, "512x4": 2200, "768x2": 1800 });
  assertEquals(slow.fixedMiB, 600);
  assertEquals(
    slow.perSampleMiB,
    Math.round(600 * terms(1024).linearTokens / terms(768).linearTokens),
  );
  // 400 at 512 px, 5000 at 768 px: faster than the query-key pairs alone.
  const fast = await run({ "512x2": 1400, "512x4": 2200, "768x2": 10600 });
  assertEquals(
    fast.perSampleMiB,
    Math.round(5000 * terms(1024).globalPairs / terms(768).globalPairs),
  );
});

Deno.test("torchMemoryRefusal() refuses a run whose estimate with its margin exceeds what is available", () => {
  assertEquals(torchMemoryRefusal({ neededMiB: 1000 }, 1000 * TORCH_MEMORY_MARGIN), null);
  assertEquals(
    torchMemoryRefusal({ neededMiB: 30000 }, 20000),
    "needs about 29.3 GiB (estimated), 19.5 GiB available",
  );
});
