import assert from "node:assert/strict";
import { classwiseNms } from "../../lib/eval/nms.ts";

Deno.test("classwiseNms() suppresses above the threshold within a class only, by score", () => {
  const detections = [
    { id: "a", classIndex: 0, score: 0.6, box: [0, 0, 10, 10] as [number, number, number, number] },
    { id: "b", classIndex: 1, score: 0.7, box: [0, 0, 10, 10] as [number, number, number, number] },
    { id: "c", classIndex: 0, score: 0.5, box: [5, 0, 15, 10] as [number, number, number, number] },
    { id: "d", classIndex: 0, score: 0.9, box: [1, 0, 11, 10] as [number, number, number, number] },
    // IoU exactly 0.5 with d ([1,0,11,10] vs [1,0,11,5] is 50/100): not above, kept.
    { id: "e", classIndex: 0, score: 0.4, box: [1, 0, 11, 5] as [number, number, number, number] },
  ];
  // d (0.9) kept; b (0.7, class 1) kept; a (0.6): IoU(a, d) = 90/110 > 0.5, dropped;
  // c (0.5): IoU(c, d) = 60/140 = 0.43, kept; e (0.4): IoU(e, d) = 0.5, IoU(e, c) = 30/120, kept.
  assert.deepEqual(classwiseNms(detections, 0.5).map((d) => d.id), ["d", "b", "c", "e"]);
});

Deno.test("classwiseNms() keeps the earlier of two equal scores", () => {
  const box: [number, number, number, number] = [0, 0, 4, 4];
  const kept = classwiseNms([
    { id: 1, classIndex: 2, score: 0.5, box },
    { id: 2, classIndex: 2, score: 0.5, box },
  ]);
  assert.deepEqual(kept.map((d) => d.id), [1]);
});
