/** Gate recording and the inspect-gates report. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../lib/backend/tf.ts";
import { GateRecorder, gateReport } from "../../lib/gate/recorder.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

Deno.test("GateRecorder collects per image and block, across batches, with one read", async () => {
  const recorder = new GateRecorder();
  const before = tf.memory().numTensors;
  for (const batch of [[0.9, 0.2], [0.6]]) {
    tf.tidy(() => {
      for (let block = 0; block < 2; block++) {
        recorder.capture(block, "lora", tf.tensor1d(batch.map((v) => v - 0.1 * block)));
        recorder.capture(block, "adapter", tf.tensor1d(batch.map((v) => 1 - v)));
      }
    });
  }
  await recorder.collect();
  assertEquals(tf.memory().numTensors, before);
  assertEquals(recorder.images.length, 3);
  const round = (v: number | undefined) => Math.round(v! * 1e6) / 1e6;
  assertEquals(round(recorder.images[1]!.blocks[1]!.lora), 0.1);
  assertEquals(round(recorder.images[2]!.blocks[0]!.adapter), 0.4);
});

Deno.test("gateReport() counts calls, bins values and names the dominant module per block", () => {
  const report = gateReport([
    { blocks: [{ lora: 0.9, adapter: 0.1 }, { lora: 0.2, adapter: 0.7 }] },
    { blocks: [{ lora: 0.8, adapter: 0.6 }, { lora: 0.3, adapter: 1 }] },
  ], { threshold: 0.5, bins: 5 });
  assertEquals(report.images, 2);
  assertEquals(report.modules, ["lora", "adapter"]);
  assertEquals(report.calls, { lora: 2, adapter: 3 });
  assertEquals(report.blocks.map((b) => b.dominant), ["lora", "adapter"]);
  assertEquals(report.blocks[0]!.gates.lora!.histogram, [0, 0, 0, 0, 2]);
  assertEquals(report.blocks[1]!.gates.adapter!.histogram, [0, 0, 0, 1, 1]);
  assertEquals(Math.round(report.blocks[0]!.gates.lora!.mean * 100), 85);
  assertEquals(Math.round(report.blocks[0]!.gates.lora!.std * 100), 5);
  assertEquals(JSON.parse(JSON.stringify(report)), report);
});
