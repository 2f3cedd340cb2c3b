/**
 * The exported files pass the official `onnx.checker` with full shape inference (Debian's
 * `python3-onnx`; the test is skipped where it is not installed), a semantic and a detection
 * export, the encoder also with its weights in external data.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { exportRun } from "../../lib/export/export_run.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { savePeftRun } from "../../lib/peft/run_files.ts";
import { loadBaseCheckpoint } from "../../lib/run/base_checkpoint.ts";
import { onBackend } from "../_backends.ts";
import { randomisedRun } from "./_export_helpers.ts";

const PYTHON = "/usr/bin/python3";

async function hasOnnx(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(PYTHON, { args: ["-c", "import onnx"], stderr: "null" })
      .output();
    return code === 0;
  } catch {
    return false;
  }
}

const CHECK = `
import sys, onnx
for path in sys.argv[1:]:
    onnx.checker.check_model(path, full_check=True)
    print(path.rsplit("/", 1)[-1])
`;

Deno.test({
  name: "export: encoder.onnx, head.onnx and decoder.onnx pass onnx.checker (full check)",
  ignore: !(await hasOnnx()),
  fn: async () => {
    await onBackend("cpu");
    const root = await Deno.makeTempDir({ prefix: "mopeft-onnx-checker-" });
    try {
      const checkpoint = `${root}/sam.safetensors`;
      await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 1));
      const base = await loadBaseCheckpoint(checkpoint);
      const exports: string[] = [];
      for (const head of [undefined, { task: "detection" as const, queries: 4 }]) {
        const run = `${root}/run_${head?.task ?? "semantic"}`;
        const model = randomisedRun(base.weights, "mopeft", 11, head);
        await savePeftRun(run, model, {
          classNames: ["a", "b", "c"],
          baseFingerprint: base.fingerprint,
        });
        model.dispose();
        const out = `${root}/export_${head?.task ?? "semantic"}`;
        await exportRun({
          checkpoint,
          peft: run,
          out,
          externalDataAboveBytes: head ? 0 : undefined,
        });
        exports.push(out);
      }
      base.weights.dispose();
      const files = exports.flatMap((dir) =>
        ["encoder", "head", "decoder"].map((f) => `${dir}/${f}.onnx`)
      );
      const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
        args: ["-c", CHECK, ...files],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(code, 0, new TextDecoder().decode(stderr));
      assertEquals(new TextDecoder().decode(stdout).trim().split("\n").length, 6);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
