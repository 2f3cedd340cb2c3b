import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { benchSize } from "../../lib/bench/bench_sizes.ts";
import { TINY_SIZE, VIT_B_SIZE } from "../../lib/encoder/random_checkpoint.ts";

Deno.test("benchSize() names the released sizes and replaces the input side", () => {
  assertEquals(benchSize("tiny"), TINY_SIZE);
  assertEquals(benchSize("vit_b"), VIT_B_SIZE);
  assertEquals(benchSize("vit_b", 512), { ...VIT_B_SIZE, imageSize: 512 });
  assertEquals(benchSize("vit_h").embedDim, 1280);
  throws(() => benchSize("vit_x"), /unknown size "vit_x"/);
  throws(() => benchSize("tiny", 100), /multiple of 16, got 100/);
});
