/** Seeded initial values: FNV-1a names, one stream per tensor, the requested distributions. */
import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual,
  ok as assert,
} from "node:assert/strict";
import { hashName, normalValues, numel, tensorSeed, uniformValues } from "../../lib/nn/init.ts";

Deno.test("hashName() is 32-bit FNV-1a", () => {
  // The published FNV-1a test values.
  assertEquals(hashName(""), 0x811c9dc5);
  assertEquals(hashName("a"), 0xe40c292c);
  assertEquals(hashName("foobar"), 0xbf9cf968);
});

Deno.test("each tensor name and run seed gives its own stream, the same on every call", () => {
  const seed = tensorSeed(7, "encoder.blocks.0.lora.a");
  assertEquals(seed, tensorSeed(7, "encoder.blocks.0.lora.a"));
  assertEquals(uniformValues(5, 1, seed), uniformValues(5, 1, seed));
  notDeepStrictEqual(seed, tensorSeed(7, "encoder.blocks.0.lora.b"));
  notDeepStrictEqual(seed, tensorSeed(8, "encoder.blocks.0.lora.a"));
});

Deno.test("uniformValues() stays in [-bound, bound); normalValues() has the requested spread", () => {
  const count = 20000;
  const uniform = uniformValues(count, 0.25, 1);
  assert(uniform.every((v) => v >= -0.25 && v < 0.25));
  // U(-b, b) has variance b²/3; its sample mean is within a few standard errors of 0.
  const uniformMean = uniform.reduce((a, b) => a + b, 0) / count;
  assert(Math.abs(uniformMean) < 4 * 0.25 / Math.sqrt(3 * count), `mean ${uniformMean}`);
  const normal = normalValues(count, 0.01, 2);
  assert(normal.every(Number.isFinite));
  const mean = normal.reduce((a, b) => a + b, 0) / count;
  const std = Math.sqrt(normal.reduce((a, b) => a + (b - mean) ** 2, 0) / count);
  assert(Math.abs(mean) < 4 * 0.01 / Math.sqrt(count), `mean ${mean}`);
  // The sample standard deviation's standard error is about std / sqrt(2 n).
  assert(Math.abs(std - 0.01) < 4 * 0.01 / Math.sqrt(2 * count), `std ${std}`);
});

Deno.test("numel() multiplies the dimensions; a scalar holds one value", () => {
  assertEquals(numel([2, 3, 4]), 24);
  assertEquals(numel([]), 1);
  assertEquals(numel([5, 0]), 0);
});
