import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { secondsPerImageOf, secondsPerStepOf } from "../../lib/study/run_timing.ts";

Deno.test("seconds per step come from the gaps between logged lines", () => {
  // Lines every 10 steps: 2 s then 4 s for 10 steps each; the first line's start-up is left out.
  assertEquals(
    secondsPerStepOf([{ step: 10, seconds: 30 }, { step: 20, seconds: 32 }, {
      step: 30,
      seconds: 36,
    }]),
    0.3,
  );
  // A resume restarts `seconds`: the pair across it is skipped (6 s over 20 steps remain).
  assertEquals(
    secondsPerStepOf([
      { step: 10, seconds: 5 },
      { step: 20, seconds: 8 },
      { step: 30, seconds: 4 },
      { step: 40, seconds: 7 },
    ]),
    0.3,
  );
  assertEquals(secondsPerStepOf([{ step: 4, seconds: 6 }]), 1.5);
  assertEquals(secondsPerStepOf([]), null);
  assertEquals(secondsPerImageOf({ seconds: 3, images: 4 }), 0.75);
  assertEquals(secondsPerImageOf({ seconds: 3, images: 0 }), null);
});
