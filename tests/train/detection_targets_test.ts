import assert from "node:assert/strict";
import { rasteriseTargets } from "../../lib/train/detection_targets.ts";

const object = (classIndex: number, bbox: [number, number, number, number], extra = {}) => ({
  classIndex,
  bbox,
  area: bbox[2] * bbox[3],
  iscrowd: false,
  difficult: false,
  ...extra,
});

Deno.test("rasteriseTargets(): boxes and polygons on the decoder's grid, crowds left out, tiny objects kept", () => {
  // A 16-px tile onto a 4 x 4 grid: cell centres at 2, 6, 10, 14 tile pixels.
  const targets = rasteriseTargets(
    [
      object(1, [4, 0, 8, 4]), // box: centres x 6, 10 on row 0
      object(0, [0, 0, 16, 16], { iscrowd: true }), // a crowd: not learned
      // Triangle (0,0), (16,0), (0,16): centres with x + y < 16.
      object(2, [0, 0, 16, 16], { polygons: [[0, 0, 16, 0, 0, 16]] }),
      object(0, [13, 13, 1, 1]), // covers no centre: its centre's cell
    ],
    16,
    4,
  );
  assert.deepEqual([...targets.classes], [1, 2, 0]);
  assert.deepEqual([...targets.ignored!], [0, 0, 0]);
  assert.equal(targets.height, 4);
  const mask = (n: number) => [...targets.masks.subarray(n * 16, (n + 1) * 16)];
  assert.deepEqual(mask(0), [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(mask(1), [1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(mask(2), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
});

Deno.test("rasteriseTargets(): a difficult object is a target marked ignored", () => {
  const targets = rasteriseTargets(
    [object(1, [0, 0, 8, 8]), object(0, [8, 8, 8, 8], { difficult: true })],
    16,
    4,
  );
  assert.deepEqual([...targets.classes], [1, 0]);
  assert.deepEqual([...targets.ignored!], [0, 1]);
  assert.deepEqual([...targets.masks.subarray(16, 32)], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    1,
    0,
    0,
    1,
    1,
  ]);
});
