import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { checkSchedule, learningRateAt } from "../../lib/train/schedule.ts";

function close(actual: number, expected: number) {
  if (Math.abs(actual - expected) > 1e-12) throw new Error(`${actual} != ${expected}`);
}

Deno.test("learningRateAt() is constant without warmup or decay", () => {
  for (const step of [0, 1, 100, 1e6]) assertEquals(learningRateAt(step, { base: 1e-4 }), 1e-4);
});

Deno.test("learningRateAt() warms up linearly, then holds", () => {
  const schedule = { base: 1, warmupSteps: 4 };
  assertEquals([0, 1, 2, 3, 4, 9].map((s) => learningRateAt(s, schedule)), [
    0.25,
    0.5,
    0.75,
    1,
    1,
    1,
  ]);
});

Deno.test("learningRateAt() decays along a cosine to the floor and stays there", () => {
  const schedule = {
    base: 1,
    warmupSteps: 10,
    decay: "cosine" as const,
    totalSteps: 110,
    minLr: 0.1,
  };
  close(learningRateAt(10, schedule), 1);
  close(learningRateAt(60, schedule), 0.55);
  close(learningRateAt(110, schedule), 0.1);
  close(learningRateAt(500, schedule), 0.1);
  let previous = Infinity;
  for (let step = 10; step <= 110; step++) {
    const lr = learningRateAt(step, schedule);
    if (lr > previous) throw new Error(`not monotone at ${step}`);
    previous = lr;
  }
});

Deno.test("checkSchedule() rejects bad fields", () => {
  assertThrows(() => checkSchedule({ base: 0 }), RangeError);
  assertThrows(() => checkSchedule({ base: 1, warmupSteps: -1 }), RangeError);
  assertThrows(() => checkSchedule({ base: 1, decay: "cosine" }), /totalSteps/);
  assertThrows(() => checkSchedule({ base: 1, minLr: 2 }), RangeError);
  checkSchedule({ base: 1, decay: "cosine", totalSteps: 5 });
});
