/** The progress reporter: formatting helpers, terminal redraws, plain lines, quiet. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  createProgress,
  formatBar,
  formatDuration,
  formatFields,
  formatRate,
  type ProgressStream,
} from "../../cli/progress.ts";

/** A stream that records what is written, pretending to be a terminal or not. */
function captureStream(terminal: boolean, columns?: number) {
  const decoder = new TextDecoder();
  const writes: string[] = [];
  const stream: ProgressStream = {
    writeSync(bytes) {
      writes.push(decoder.decode(bytes));
      return bytes.length;
    },
    isTerminal: () => terminal,
    columns: () => columns,
  };
  return { stream, writes, text: () => writes.join("") };
}

/** A clock the test moves by hand, in milliseconds. */
function manualClock() {
  let time = 0;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

Deno.test("formatDuration() gives seconds, minutes with seconds, hours with minutes", () => {
  assertEquals(formatDuration(0), "0s");
  assertEquals(formatDuration(44.6), "45s");
  assertEquals(formatDuration(65), "1m05s");
  assertEquals(formatDuration(3599), "59m59s");
  assertEquals(formatDuration(7380), "2h03m");
  assertEquals(formatDuration(Infinity), "?");
  assertEquals(formatDuration(Number.NaN), "?");
});

Deno.test("formatRate() flips to seconds per unit below one per second", () => {
  assertEquals(formatRate(3.21, "image"), "3.2 images/s");
  assertEquals(formatRate(250, "step"), "250 steps/s");
  assertEquals(formatRate(0.25, "step"), "4.0 s/step");
  assertEquals(formatRate(0, "step"), "? steps/s");
});

Deno.test("formatBar() fills a fraction of the cells and clamps", () => {
  assertEquals(formatBar(0.5, 4), "██░░");
  assertEquals(formatBar(0, 3), "░░░");
  assertEquals(formatBar(1.7, 3), "███");
  assertEquals(formatBar(-1, 2), "░░");
});

Deno.test("formatFields() keeps four significant digits and names every field", () => {
  assertEquals(
    formatFields({ loss: 0.431234, lr: 0.0001, epoch: 3, phase: "warmup" }),
    "loss 0.4312  lr 1.00e-4  epoch 3  phase warmup",
  );
  assertEquals(formatFields({}), "");
});

Deno.test("createProgress() on a terminal redraws one line at most ten times a second", () => {
  const { stream, writes, text } = captureStream(true);
  const clock = manualClock();
  const progress = createProgress({
    label: "train",
    total: 100,
    unit: "step",
    stream,
    color: false,
    now: clock.now,
  });
  for (let step = 1; step <= 50; step++) {
    clock.advance(20); // 50 steps/s: five updates per 100 ms window
    progress.update(step, { loss: 1 / step });
  }
  // One draw per 100 ms: 1 s of updates gives about ten redraws, not fifty.
  assert(writes.length >= 9 && writes.length <= 11, `${writes.length} redraws`);
  for (const write of writes) assert(write.startsWith("\r\x1b[2K") && !write.includes("\n"));
  const last = writes.at(-1)!;
  assert(last.includes("train"), last);
  assert(last.includes("/100 steps"), last);
  assert(last.includes("50.0 steps/s"), last);
  assert(last.includes("ETA 1s"), last);
  assert(last.includes("loss 0.02"), last);
  assert(last.includes("█"), last);
  progress.done("train: done");
  assert(text().endsWith("\r\x1b[2Ktrain: done\n"));
});

Deno.test("createProgress() on a terminal draws the last step and drops the bar when narrow", () => {
  const { stream, writes } = captureStream(true, 40);
  const clock = manualClock();
  const progress = createProgress({
    label: "eval",
    total: 2,
    unit: "image",
    stream,
    color: true,
    now: clock.now,
  });
  progress.update(1);
  clock.advance(1);
  progress.update(2, { miou: 0.61234 });
  assertEquals(writes.length, 2);
  assert(writes[1]!.includes("2/2 images"));
  // The bar gives way before the numbers do.
  assert(!writes[1]!.includes("█"), writes[1]!);
  // Colour codes do not count against the width.
  // deno-lint-ignore no-control-regex -- matching ANSI escapes is the point
  const visible = writes[1]!.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace("\r", "");
  assert(visible.length <= 39, `${visible.length} columns: ${visible}`);
});

Deno.test("createProgress() colours only when asked and never outside a terminal by default", () => {
  const coloured = captureStream(true);
  const clock = manualClock();
  const progress = createProgress({
    label: "train",
    total: 10,
    unit: "step",
    stream: coloured.stream,
    color: true,
    now: clock.now,
  });
  clock.advance(1000);
  progress.update(1);
  assert(coloured.text().includes("\x1b[2mETA 9s\x1b[22m"), coloured.text());

  const plain = captureStream(false);
  const plainProgress = createProgress({
    label: "train",
    total: 10,
    unit: "step",
    stream: plain.stream,
    now: clock.now,
  });
  clock.advance(1000);
  plainProgress.update(5);
  plainProgress.done();
  assert(!plain.text().includes("\x1b"), plain.text());
});

Deno.test("createProgress() off a terminal prints a plain line every 10%, no carriage returns", () => {
  const { stream, writes, text } = captureStream(false);
  const clock = manualClock();
  const progress = createProgress({
    label: "train",
    total: 200,
    unit: "step",
    stream,
    now: clock.now,
  });
  for (let step = 1; step <= 200; step++) {
    clock.advance(100);
    progress.update(step, { loss: 0.5 });
  }
  progress.done();
  assert(!text().includes("\r"));
  assertEquals(writes.length, 11); // 10%, 20%, ..., 100%, then the summary
  assertEquals(writes[0], "train  20/200 steps (10%)  10.0 steps/s  ETA 18s  loss 0.5000\n");
  assertEquals(writes[9], "train  200/200 steps (100%)  10.0 steps/s  elapsed 20s  loss 0.5000\n");
  assertEquals(writes[10], "train: 200 steps in 20s (10.0 steps/s), loss 0.5000\n");
});

Deno.test("createProgress() of a resumed run counts the run's steps but rates this process's", () => {
  const { stream, writes } = captureStream(false);
  const clock = manualClock();
  // A run of 30 steps resumed at step 20: this process runs 10, one every 200 ms.
  const progress = createProgress({
    label: "train",
    total: 30,
    start: 20,
    unit: "step",
    stream,
    now: clock.now,
  });
  for (let step = 21; step <= 30; step++) {
    clock.advance(200);
    progress.update(step, { loss: 0.25 });
  }
  progress.done();
  assertEquals(writes[0], "train  21/30 steps (70%)  5.0 steps/s  ETA 2s  loss 0.2500\n");
  assertEquals(
    writes.at(-1),
    "train: 10 steps in 2s (5.0 steps/s), resumed at step 20 (run total 30/30 steps), " +
      "loss 0.2500\n",
  );
});

Deno.test("createProgress() off a terminal also prints after the interval when 10% is slow", () => {
  const { stream, writes } = captureStream(false);
  const clock = manualClock();
  const progress = createProgress({
    label: "eval",
    unit: "image",
    stream,
    now: clock.now,
    plainIntervalSeconds: 30,
  });
  for (let image = 1; image <= 10; image++) {
    clock.advance(10_000);
    progress.update(image);
  }
  // No total: only the 30 s interval applies (at 30, 60 and 90 s).
  assertEquals(writes.length, 3);
  assertEquals(writes[0], "eval  3 images  10.0 s/image  elapsed 30s\n");
});

Deno.test("createProgress() with quiet writes nothing", () => {
  const { stream, writes } = captureStream(true);
  const progress = createProgress({ label: "train", total: 5, unit: "step", quiet: true, stream });
  progress.update(5, { loss: 1 });
  progress.done("summary");
  assertEquals(writes, []);
});

Deno.test("createProgress() ignores updates after done() and rejects a negative total", () => {
  const { stream, writes } = captureStream(false);
  const progress = createProgress({ label: "train", total: 1, unit: "step", stream });
  progress.done("finished");
  progress.update(1);
  progress.done("again");
  assertEquals(writes, ["finished\n"]);
  let error: unknown;
  try {
    createProgress({ label: "train", total: -1, unit: "step", stream });
  } catch (caught) {
    error = caught;
  }
  assert(error instanceof RangeError);
});
