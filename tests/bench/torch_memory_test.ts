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

Deno.test("activationTerms() counts tokens with and without the windows' padding, and global query-key pairs", () => {
  // 256 px: a 16x16 grid, padded to 28x28 in the windowed blocks.
  assertEquals(activationTerms(VIT_B, 256), {
    linearTokens: 12 * 16 * 16,
    paddedTokens: 8 * 28 * 28 + 4 * 16 * 16,
    globalPairs: 4 * 256 * 256,
  });
  assertEquals(activationTerms({ ...VIT_B, blockWindowSizes: [14, 14] }, 256).globalPairs, 0);
  assertEquals(probeSizes(1024), [512, 768]);
  assertEquals(probeSizes(64), [32, 48]);
});

Deno.test("estimateTorchMemory() never comes out below a peak that follows either of its models", async () => {
  for (const tokens of ["paddedTokens", "linearTokens"] as const) {
    const fixed = 700;
    const peak = (imageSize: number, batch: number) => {
      const terms = activationTerms(VIT_B, imageSize);
      return fixed + batch * (0.002 * terms[tokens] + 3e-6 * terms.globalPairs);
    };
    const probes: [number, number][] = [];
    const estimate = await estimateTorchMemory(VIT_B, 4, (imageSize, batch) => {
      probes.push([imageSize, batch]);
      return Promise.resolve(peak(imageSize, batch));
    });
    // Nothing is run at the size asked about.
    assertEquals(probes, [[512, 2], [512, 4], [768, 2]]);
    assertEquals(estimate.probes.map((p) => [p.imageSize, p.batch]), probes);
    assertEquals(estimate.fixedMiB, fixed);
    const real = peak(1024, 4);
    ok(estimate.neededMiB >= real - 1 && estimate.neededMiB < 1.5 * real, JSON.stringify(estimate));
    assertEquals([estimate.imageSize, estimate.batch], [1024, 4]);
    ok(estimate.method.includes("512 px") && estimate.method.includes("768 px"));
  }
});

Deno.test("estimateTorchMemory() grows a sample's part with tokens alone without global blocks", async () => {
  const windowed = { ...VIT_B, blockWindowSizes: [14, 14, 14] };
  // fixed 600; a sample's part 400 at 512 px, 600 at 768 px.
  const values: Record<string, number> = { "512x2": 1400, "512x4": 2200, "768x2": 1800 };
  const estimate = await estimateTorchMemory(
    windowed,
    1,
    (imageSize, batch) => Promise.resolve(values[`${imageSize}x${batch}`]!),
  );
  assertEquals(estimate.fixedMiB, 600);
  const [medium, target] = [activationTerms(windowed, 768), activationTerms(windowed, 1024)];
  const grown = Math.max(
    600 * target.paddedTokens / medium.paddedTokens,
    600 * target.linearTokens / medium.linearTokens,
  );
  assertEquals(estimate.perSampleMiB, Math.round(grown));
});

Deno.test("estimateTorchMemory() does not run the larger probe when its bound does not fit", async () => {
  const probes: string[] = [];
  const asked: number[] = [];
  const values: Record<string, number> = { "512x2": 1400, "512x4": 2200 };
  const estimate = await estimateTorchMemory(VIT_B, 4, (imageSize, batch) => {
    probes.push(`${imageSize}x${batch}`);
    return Promise.resolve(values[`${imageSize}x${batch}`]!);
  }, (neededMiB) => {
    asked.push(neededMiB);
    return false;
  });
  assertEquals(probes, ["512x2", "512x4"]);
  // fixed 600, 400 a sample at 512 px, grown with the query-key pairs (the fastest here).
  const pairs = (size: number) => activationTerms(VIT_B, size).globalPairs;
  assertEquals(asked, [600 + 2 * 400 * pairs(768) / pairs(512)]);
  assertEquals(estimate.perSampleMiB, Math.round(400 * pairs(1024) / pairs(512)));
  ok(estimate.method.includes("might not have fitted"), estimate.method);
});

Deno.test("torchMemoryRefusal() refuses a run whose estimate with its margin exceeds what is available", () => {
  assertEquals(torchMemoryRefusal({ neededMiB: 1000 }, 1000 * TORCH_MEMORY_MARGIN), null);
  assertEquals(
    torchMemoryRefusal({ neededMiB: 30000 }, 20000),
    "needs about 29.3 GiB (estimated), 19.5 GiB available",
  );
});
