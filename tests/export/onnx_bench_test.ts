/** `mopeft bench --onnx`: the exported encoders' onnxruntime times beside mopeft's forward. */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { runCli } from "../_cli.ts";

Deno.test("mopeft bench --onnx times each method's encoder.onnx in onnxruntime", async () => {
  const result = await runCli([
    "bench",
    "--size",
    "tiny",
    "--runs",
    "2",
    "--warmup",
    "0",
    "--backend",
    "cpu",
    "--methods",
    "decoder,mopeft",
    "--no-torch",
    "--onnx",
    "--quiet",
  ]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assertEquals(report.onnx.batch, 1);
  // decoder adds no module: its encoder is the plain one.
  assertEquals(report.onnx.encoders.map((e: { method: string }) => e.method), ["plain", "mopeft"]);
  const [plain, mopeft] = report.onnx.encoders;
  assertEquals(plain.forward.samplesMs.length, 2);
  ok(mopeft.weightBytes > plain.weightBytes, "the mopeft encoder holds its modules' weights");
  for (const encoder of report.onnx.encoders) {
    ok(encoder.forward.medianMs > 0 && encoder.loadMs > 0);
    assertEquals(typeof encoder.oursOverOnnx, "number");
  }
  const ours =
    report.methods.find((m: { method: string }) => m.method === "mopeft").forward.medianMs;
  assertEquals(mopeft.oursOverOnnx, Math.round((ours / mopeft.forward.medianMs) * 100) / 100);
});
