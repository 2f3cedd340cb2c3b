import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { ConfusionMatrix } from "../../lib/metrics/confusion.ts";
import { computeScores } from "../../lib/metrics/scores.ts";

function assertClose(actual: number | null, expected: number, label: string) {
  assert(
    actual !== null && Math.abs(actual - expected) < 1e-9,
    `${label}: ${actual} != ${expected}`,
  );
}

/**
 * Four classes. Pixels as (pred, gt): class 2 is predicted once but never in the ground truth,
 * class 3 appears nowhere, and three ignore pixels carry arbitrary predictions.
 *
 *              gt=0 gt=1 gt=2 gt=3
 *   pred=0  [   5,   1,   0,   0 ]
 *   pred=1  [   2,   3,   0,   0 ]
 *   pred=2  [   1,   0,   0,   0 ]
 *   pred=3  [   0,   0,   0,   0 ]
 */
function handMatrix(): ConfusionMatrix {
  const pixels: [number, number][] = [
    ...Array(5).fill([0, 0]),
    [0, 1],
    [1, 0],
    [1, 0],
    ...Array(3).fill([1, 1]),
    [2, 0],
    [3, 255],
    [2, 255],
    [0, 255],
  ];
  const matrix = new ConfusionMatrix(4);
  matrix.add(pixels.map(([p]) => p), pixels.map(([, g]) => g));
  return matrix;
}

Deno.test("ConfusionMatrix.add() counts conf[pred][gt] and skips ignore pixels", () => {
  assertEquals(handMatrix().toRows(), [[5, 1, 0, 0], [2, 3, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]);
});

Deno.test("computeScores() follows MESS on a hand-computed matrix", () => {
  const scores = computeScores(handMatrix(), { classesOfInterest: [1, 2, 3] });
  // posGt = [8, 4, 0, 0], posPred = [6, 5, 1, 0], tp = [5, 3, 0, 0].
  // IoU: 5 / (8 + 6 - 5) = 5/9; 3 / (4 + 5 - 3) = 1/2; class 2: 0 / 1 = 0 (counted); class 3: none.
  assertClose(scores.iou[0]!, (100 * 5) / 9, "IoU 0");
  assertClose(scores.iou[1]!, 50, "IoU 1");
  assertEquals(scores.iou[2], 0);
  assertEquals(scores.iou[3], null);
  assertClose(scores.miou, (100 * (5 / 9 + 1 / 2 + 0)) / 3, "mIoU");
  // Accuracy over classes present in the ground truth: 5/8 and 3/4.
  assertEquals(scores.acc, [62.5, 75, null, null]);
  assertClose(scores.macc, 68.75, "mACC");
  assertClose(scores.pacc, (100 * 8) / 12, "pACC");
  // fwIoU = (5/9 * 8 + 1/2 * 4) / 12.
  assertClose(scores.fwiou, (100 * (40 / 9 + 2)) / 12, "fwIoU");
  assertClose(scores.coiMiou!, 25, "CoI-mIoU"); // classes 1 and 2: (0.5 + 0) / 2
  assertClose(scores.coiMacc!, 75, "CoI-mACC");
});

Deno.test("computeScores() of an empty matrix is null, not NaN", () => {
  const scores = computeScores(new ConfusionMatrix(2));
  assertEquals([scores.miou, scores.macc, scores.pacc, scores.fwiou], [null, null, null, null]);
});

Deno.test("ConfusionMatrix.add() refuses values that are not classes", () => {
  const matrix = new ConfusionMatrix(3);
  assertThrows(() => matrix.add([0, 5], [0, 1]), {
    message: "predicted value 5 at pixel 1 is not a class (3 classes)",
  });
  assertThrows(() => matrix.add([0, 0], [0, 4]), {
    message: "ground-truth value 4 at pixel 1 is not a class (3 classes)",
  });
  assertThrows(() => matrix.add([0], [0, 1]), {
    message: "Prediction has 1 pixels, ground truth has 2",
  });
});
