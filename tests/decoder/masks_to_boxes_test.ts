import assert from "node:assert/strict";
import { masksToBoxes, maskToBox } from "../../lib/decoder/masks_to_boxes.ts";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

Deno.test("maskToBox() gives the exclusive tight box and the mean sigmoid inside the mask", () => {
  // 5 x 4 mask; on: (row 1, col 2) logit 1, (row 2, col 1) logit 3, (row 2, col 3) logit 0.5.
  // Logit exactly 0 at (row 3, col 4) is off (the mask is logit > 0).
  const width = 5;
  const logits = new Array(20).fill(-2);
  logits[1 * width + 2] = 1;
  logits[2 * width + 1] = 3;
  logits[2 * width + 3] = 0.5;
  logits[3 * width + 4] = 0;
  const result = maskToBox(logits, width, 4)!;
  // Columns 1..3 -> x1 1, x2 4; rows 1..2 -> y1 1, y2 3.
  assert.deepEqual(result.box, [1, 1, 4, 3]);
  assert.equal(result.pixels, 3);
  assert.ok(
    Math.abs(result.meanProbability - (sigmoid(1) + sigmoid(3) + sigmoid(0.5)) / 3) < 1e-12,
  );
});

Deno.test("maskToBox(): one pixel is a 1 x 1 box; a full mask is the whole image; empty is null", () => {
  const one = new Array(12).fill(-1);
  one[2 * 4 + 3] = 5; // last column, last row
  assert.deepEqual(maskToBox(one, 4, 3)!.box, [3, 2, 4, 3]);
  assert.deepEqual(maskToBox(new Array(12).fill(1), 4, 3)!.box, [0, 0, 4, 3]);
  assert.equal(maskToBox(new Array(12).fill(-1), 4, 3), null);
  assert.equal(maskToBox(new Array(12).fill(0), 4, 3), null, "logit 0 is outside the mask");
  assert.equal(maskToBox(new Array(12).fill(NaN), 4, 3), null, "NaN is outside the mask");
  assert.throws(() => maskToBox([1, 2], 4, 3), /needs 12 logits, got 2/);
});

Deno.test("masksToBoxes() handles each mask of a stack on its own", () => {
  const stack = new Float32Array([
    // mask 0: column 1 of both rows
    -1,
    1,
    -1,
    -1,
    1,
    -1,
    // mask 1: empty
    -1,
    -1,
    -1,
    -1,
    -1,
    -1,
  ]);
  const boxes = masksToBoxes(stack, 2, 3, 2);
  assert.deepEqual(boxes[0]!.box, [1, 0, 2, 2]);
  assert.equal(boxes[1], null);
});
