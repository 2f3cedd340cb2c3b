import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { splitHoldout } from "../../lib/data/holdout.ts";
import { epochOrder, shuffleSeeded } from "../../lib/data/shuffle.ts";

const FILES = Array.from({ length: 50 }, (_, i) => `img_${String(i).padStart(3, "0")}`);

Deno.test("splitHoldout() gives disjoint parts that cover every file", () => {
  const { train, heldOut } = splitHoldout(FILES, { fraction: 0.2, seed: 7 });
  assertEquals(heldOut.length, 10);
  assertEquals(train.length, 40);
  assertEquals([...train, ...heldOut].sort(), FILES);
  assertEquals(new Set([...train, ...heldOut]).size, 50);
});

Deno.test("splitHoldout() is deterministic and independent of listing order", () => {
  const a = splitHoldout(FILES, { fraction: 0.3, seed: 11 });
  const b = splitHoldout(shuffleSeeded(FILES, 99), { fraction: 0.3, seed: 11 });
  assertEquals(a.heldOut, [...b.heldOut].sort());
  assertNotEquals(a.heldOut, splitHoldout(FILES, { fraction: 0.3, seed: 12 }).heldOut);
});

Deno.test("splitHoldout() keeps one file on each side and checks the fraction", () => {
  assertEquals(splitHoldout(["a", "b", "c"], { fraction: 0.01, seed: 1 }).heldOut.length, 1);
  assertEquals(splitHoldout(["a", "b", "c"], { fraction: 0.99, seed: 1 }).train.length, 1);
  assertThrows(() => splitHoldout(FILES, { fraction: 1, seed: 1 }), {
    message: "Hold-out fraction must be between 0 and 1 (exclusive), got 1",
  });
});

Deno.test("epochOrder() is a seeded permutation that changes per epoch", () => {
  const first = epochOrder(FILES, { seed: 3, epoch: 0 });
  assertEquals(first, epochOrder(FILES, { seed: 3, epoch: 0 }));
  assertEquals([...first].sort(), FILES);
  assertNotEquals(first, epochOrder(FILES, { seed: 3, epoch: 1 }));
  assertNotEquals(first, FILES);
});
