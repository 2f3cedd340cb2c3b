/**
 * `mopeft export`: a trained run as ONNX (encoder, head, promptable decoder, model.json), and
 * with `--check IMAGE` the written files run in onnxruntime against the tfjs model.
 *
 * @module
 */
import type { Command } from "commander";
import { checkExport } from "../lib/export/check.ts";
import { decodeRgb } from "../lib/image/decode.ts";
import { checkOutFolder, writeExport } from "../lib/export/export_run.ts";
import { checkOpset, DEFAULT_OPSET } from "../lib/export/onnx_file.ts";
import { openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { log, printJson, setQuiet } from "./io.ts";
import { positiveInteger } from "./options.ts";

interface ExportCliOptions {
  checkpoint: string;
  peft: string;
  out: string;
  imageSize?: number;
  opset: number;
  check?: string;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Registers `mopeft export`. */
export function registerExport(program: Command): void {
  const command = program.command("export")
    .description(
      "Write a trained run as ONNX: encoder.onnx (every PEFT module and gate inside), head.onnx, " +
        "decoder.onnx (SAM's promptable decoder, official signature) and model.json",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .requiredOption("--peft <dir>", "trained run folder (from mopeft train)")
    .requiredOption("--out <dir>", "folder to write (an earlier export there is replaced)")
    .option("--image-size <n>", "encoder input side (the checkpoint's S)", positiveInteger)
    .option("--opset <n>", "ONNX opset, 17 to 21", positiveInteger, DEFAULT_OPSET)
    .option(
      "--check <image>",
      "run the written files in onnxruntime on this image and print their differences from " +
        "the tfjs model",
    )
    .option("--quiet", "no progress output", false);
  addBackendOptions(command).action(async (options: ExportCliOptions) => {
    setQuiet(options.quiet);
    // Cheap checks first: a bad opset or --out is reported before the checkpoint is read.
    checkOpset(options.opset);
    await checkOutFolder(options.out);
    // An unreadable --check image is reported before anything is written.
    if (options.check) await decodeRgb(options.check);
    await startBackend(options);
    const run = await openRun(options.checkpoint, options.peft);
    try {
      const started = performance.now();
      const result = await writeExport(run, options);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      log(
        `mopeft: exported ${options.peft} (${run.manifest.method}) to ${options.out} in ${seconds} s`,
      );
      const check = options.check ? await checkExport(options.out, run, options.check) : undefined;
      printJson({
        out: result.out,
        method: result.manifest.run.method,
        task: result.manifest.task,
        files: result.files,
        ...(check ? { check } : {}),
      });
    } finally {
      run.dispose();
    }
  });
}
