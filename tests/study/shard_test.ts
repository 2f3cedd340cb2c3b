import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { shardCells, shardFromEnvironment } from "../../lib/study/shard.ts";

Deno.test("shards take every Nth cell: disjoint, and together every cell once", () => {
  const cells = Array.from({ length: 11 }, (_, i) => i);
  const parts = [0, 1, 2].map((index) => shardCells(cells, { index, count: 3 }));
  assertEquals(parts, [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]);
  assertEquals(parts.flat().sort((a, b) => a - b), cells);
  assertEquals(shardCells(cells), cells);
  assertEquals(shardCells([1, 2], { index: 4, count: 5 }), []);
  throws(() => shardCells(cells, { index: 3, count: 2 }), /shard 3\/2 does not exist/);
});

Deno.test("the scheduler's environment picks the shard", () => {
  assertEquals(shardFromEnvironment({}), undefined);
  assertEquals(
    shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" }),
    undefined,
  );
  assertEquals(
    shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_COUNT: "8" }),
    { index: 5, count: 8 },
  );
  // An array numbered 1-8 is shards 0-7.
  assertEquals(
    shardFromEnvironment({
      SLURM_ARRAY_TASK_ID: "8",
      SLURM_ARRAY_TASK_COUNT: "8",
      SLURM_ARRAY_TASK_MIN: "1",
    }),
    { index: 7, count: 8 },
  );
  assertEquals(shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" }, 4), { index: 2, count: 4 });
  throws(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" }), /--shards N/);
  throws(() => shardFromEnvironment({ JOB_COMPLETION_INDEX: "4" }, 4), /shard 4\/4 does not exist/);
  throws(
    () => shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "x", SLURM_ARRAY_TASK_COUNT: "2" }),
    /not a non-negative integer/,
  );
});
