import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { mulberry32 } from "../../lib/nn/prng.ts";
import { ConfusionMatrix } from "../../lib/metrics/confusion.ts";
import { makeScoreReport, mergeScores } from "../../lib/metrics/report.ts";

const NAMES = ["sky", "road", "car"];

function randomImage(seed: number, pixels: number) {
  const random = mulberry32(seed);
  const gt = Uint8Array.from(
    { length: pixels },
    () => (random() < 0.1 ? 255 : Math.floor(random() * 3)),
  );
  const pred = Uint8Array.from(
    gt,
    (g) => (random() < 0.7 && g !== 255 ? g : Math.floor(random() * 3)),
  );
  return { gt, pred };
}

Deno.test("mergeScores() of two shards equals scoring the whole", () => {
  const images = Array.from({ length: 6 }, (_, i) => randomImage(i, 500));
  const whole = new ConfusionMatrix(3);
  const shards = [new ConfusionMatrix(3), new ConfusionMatrix(3)];
  images.forEach(({ gt, pred }, i) => {
    whole.add(pred, gt);
    shards[i % 2]!.add(pred, gt);
  });
  const merged = mergeScores(
    // A JSON round trip, as shards travel between machines.
    JSON.parse(JSON.stringify(makeScoreReport(shards[0]!, { classNames: NAMES, images: 3 }))),
    makeScoreReport(shards[1]!, { classNames: NAMES, images: 3 }),
  );
  assertEquals(merged, makeScoreReport(whole, { classNames: NAMES, images: 6 }));
});

Deno.test("mergeScores() refuses reports with other classes", () => {
  const a = makeScoreReport(new ConfusionMatrix(3), { classNames: NAMES, images: 1 });
  const b = makeScoreReport(new ConfusionMatrix(3), {
    classNames: ["sky", "road", "bus"],
    images: 1,
  });
  const c = makeScoreReport(new ConfusionMatrix(2), { classNames: ["sky", "road"], images: 1 });
  assertThrows(() => mergeScores(a, b), {
    message: 'Cannot merge scores "report 2": class 2 is "bus", in "report 1" it is "car"',
  });
  assertThrows(() => mergeScores(a, c), {
    message: 'Cannot merge scores "report 2": 2 classes, "report 1" has 3',
  });
});

Deno.test("makeScoreReport() carries names, per-class scores and the matrix", () => {
  const report = makeScoreReport(ConfusionMatrix.fromRows([[3, 1], [0, 4]]), {
    classNames: ["others", "tool"],
    images: 2,
  });
  assertEquals(report.confusion, [[3, 1], [0, 4]]);
  assertEquals(report.perClass.map((c) => c.name), ["others", "tool"]);
  assertEquals(report.pacc, 87.5);
  assertEquals(report.format, "mopeft-scores-v1");
});
