import { strictEqual as assertEquals } from "node:assert/strict";
import type { BoxXywh } from "../../lib/image/box.ts";
import { elevenPointAp, voc07ApPerClass } from "../../lib/metrics/voc07.ts";
import { assertClose, truth } from "./_detection.ts";

Deno.test("elevenPointAp: highest precision at recall >= 0, 0.1, ..., 1", () => {
  // recall [.5, .5, 1], precision [1, .5, 2/3].
  assertClose(elevenPointAp([1, 1, 2], [0, 1, 1], 2), (6 + 5 * (2 / 3)) / 11, "two of two");
  assertClose(elevenPointAp([0, 0], [1, 2], 3), 0, "nothing found");
  // Recall 0.3 exactly: numpy's 0.30000000000000004 is not reached, so 3 levels count, not 4.
  assertClose(elevenPointAp([1, 2, 3], [0, 0, 0], 10), 3 / 11, "recall 0.3");
});

Deno.test("voc07ApPerClass: greedy by score, duplicates false, difficult left out, IoU > 0.5", () => {
  const images = [
    {
      id: 1,
      objects: [truth([0, 0, 10, 10]), truth([30, 0, 10, 10], { difficult: true })],
      detections: [
        { classIndex: 0, bbox: [0, 0, 10, 10] as BoxXywh, score: 0.9 }, // true positive
        { classIndex: 0, bbox: [30, 0, 10, 10] as BoxXywh, score: 0.8 }, // on a difficult one
        { classIndex: 0, bbox: [0, 0, 10, 10] as BoxXywh, score: 0.7 }, // duplicate
      ],
    },
    {
      id: 2,
      objects: [truth([0, 0, 20, 20]), truth([0, 0, 5, 5], { classIndex: 1, iscrowd: true })],
      detections: [
        { classIndex: 0, bbox: [0, 0, 20, 10] as BoxXywh, score: 0.6 }, // IoU exactly 0.5
        { classIndex: 0, bbox: [0, 0, 20, 19] as BoxXywh, score: 0.5 }, // true positive
        { classIndex: 2, bbox: [0, 0, 20, 19] as BoxXywh, score: 0.5 },
      ],
    },
  ];
  const ap = voc07ApPerClass(images, 3);
  // tp [1,1,1,1,2], fp [0,0,1,2,2], positives 2: recall [.5,.5,.5,.5,1],
  // precision [1,1,.5,1/3,.5]; levels 0-.5 give 1, levels .6-1 give .5.
  assertClose(ap[0], (6 + 5 * 0.5) / 11, "class 0");
  assertEquals(ap[1], null, "class 1: only a crowd region");
  assertEquals(ap[2], null, "class 2: detections, no ground truth");
});
