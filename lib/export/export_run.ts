/**
 * `mopeft export`: a trained run as ONNX files that onnxruntime and SAM's ONNX tools load
 * unchanged: `encoder.onnx` (with every PEFT module and gate of the run), `head.onnx` (the
 * run's semantic or detection head), `decoder.onnx` (SAM's promptable decoder in the official
 * export's signature) and `model.json`.
 *
 * The folder is written whole or not at all: everything goes into a temporary folder beside the
 * target, which is renamed into place at the end.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { pathExists } from "../io/path_exists.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { type OpenRun, openRun } from "../run/open_run.ts";
import { buildDecoderGraph, promptDecoderWeights } from "./decoder_graph.ts";
import { buildEncoderGraph } from "./encoder_graph.ts";
import { buildHeadGraph } from "./head_graph.ts";
import { EXPORT_MANIFEST_FILE, type ExportManifest, exportManifest } from "./manifest.ts";
import { checkOpset, DEFAULT_OPSET, writeOnnxModel } from "./onnx_file.ts";

/** Options of {@link exportRun}. */
export interface ExportOptions {
  /** The SAM checkpoint (safetensors) the run was trained on. */
  checkpoint: string;
  /** The run folder (`peft.json`, `peft.safetensors`). */
  peft: string;
  /** The folder to write (created; an earlier export there is replaced). */
  out: string;
  /** The encoder's input side; the checkpoint's S (the only one its position embedding has). */
  imageSize?: number;
  /** ONNX opset; default 17. */
  opset?: number;
  /** Encoder weights past this many bytes go to `encoder.onnx.data`; default 1.5 GiB. */
  externalDataAboveBytes?: number;
}

/** The files an export folder holds. */
const EXPORT_FILES = [
  "encoder.onnx",
  "encoder.onnx.data",
  "head.onnx",
  "decoder.onnx",
  EXPORT_MANIFEST_FILE,
];

/** What {@link exportRun} wrote. */
export interface ExportResult {
  out: string;
  /** File names in `out` with their sizes. */
  files: { name: string; bytes: number }[];
  manifest: ExportManifest;
}

/** Refuses an `out` that is a file or a folder holding something other than an export. */
export async function checkOutFolder(out: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(out);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (!(await pathExists(dirname(out)))) {
        throw new Error(`Cannot export to "${out}": its folder "${dirname(out)}" does not exist`);
      }
      return;
    }
    throw error;
  }
  if (!info.isDirectory) throw new Error(`Cannot export to "${out}": it is a file, not a folder`);
  // Only an earlier export is replaced: anything else in the folder would be lost with it.
  const others: string[] = [];
  for await (const entry of Deno.readDir(out)) {
    if (!EXPORT_FILES.includes(entry.name)) others.push(entry.name);
  }
  if (others.length > 0) {
    throw new Error(
      `Cannot export to "${out}": the folder holds files that are not an export's ` +
        `(${others.slice(0, 3).join(", ")}${others.length > 3 ? ", ..." : ""})`,
    );
  }
}

/** Puts the finished folder `temp` at `out`, replacing an earlier export there. */
async function moveIntoPlace(temp: string, out: string): Promise<void> {
  if (!(await pathExists(out))) {
    await Deno.rename(temp, out);
    return;
  }
  const old = `${temp}.old`;
  await Deno.rename(out, old);
  try {
    await Deno.rename(temp, out);
  } catch (error) {
    await Deno.rename(old, out);
    throw error;
  }
  await Deno.remove(old, { recursive: true });
}

/**
 * Writes the ONNX export of an opened run into `out` (see the module's description).
 *
 * @example
 * ```ts ignore
 * const run = await openRun("sam_vit_b.safetensors", "runs/kvasir");
 * await writeExport(run, { out: "export/kvasir" });
 * ```
 */
export async function writeExport(
  run: OpenRun,
  options: Pick<ExportOptions, "out" | "imageSize" | "opset" | "externalDataAboveBytes">,
): Promise<ExportResult> {
  const opset = options.opset ?? DEFAULT_OPSET;
  checkOpset(opset);
  const out = options.out;
  await checkOutFolder(out);
  const model = run.model;
  const weights = model.weights();
  const imageSize = weights.architecture.encoder.imageSize;
  if (options.imageSize !== undefined && options.imageSize !== imageSize) {
    throw new RangeError(
      `--image-size ${options.imageSize}: this checkpoint's encoder takes ${imageSize} px ` +
        `(its position embedding has ${imageSize / 16} tokens a side); export at ${imageSize}`,
    );
  }
  const graphs = {
    encoder: buildEncoderGraph(weights, model.config, await model.exportTensors()),
    head: buildHeadGraph(weights, model.head, model.numClasses),
    decoder: buildDecoderGraph(promptDecoderWeights(run.base.weights, weights)),
  };
  const temp = await Deno.makeTempDir({ dir: dirname(out), prefix: `.${basename(out)}.export-` });
  try {
    const metadata = { "mopeft.method": model.config.method, "mopeft.task": model.head.task };
    const encoderFiles = await writeOnnxModel(join(temp, "encoder.onnx"), graphs.encoder, {
      opset,
      metadata,
      externalDataAboveBytes: options.externalDataAboveBytes,
    });
    await writeOnnxModel(join(temp, "head.onnx"), graphs.head, { opset, metadata });
    await writeOnnxModel(join(temp, "decoder.onnx"), graphs.decoder, { opset, metadata });
    const manifest = exportManifest({
      opset,
      imageSize,
      run: run.manifest,
      head: model.head,
      fingerprint: run.base.fingerprint,
      graphs,
      encoderExternalData: encoderFiles.length > 1 ? basename(encoderFiles[1]!) : undefined,
    });
    await writeFileAtomic(
      join(temp, EXPORT_MANIFEST_FILE),
      JSON.stringify(manifest, null, 2) + "\n",
    );
    const files: { name: string; bytes: number }[] = [];
    for await (const entry of Deno.readDir(temp)) {
      files.push({ name: entry.name, bytes: (await Deno.stat(join(temp, entry.name))).size });
    }
    files.sort((a, b) => (a.name < b.name ? -1 : 1));
    await Deno.chmod(temp, 0o755); // made 0700 as a temporary folder
    await moveIntoPlace(temp, out);
    return { out, files, manifest };
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Loads `options.checkpoint` and the run in `options.peft` (refusing a run trained on another
 * checkpoint) and writes its export.
 *
 * @example
 * ```ts ignore
 * const { files } = await exportRun({ checkpoint: "sam_vit_b.safetensors", peft: "runs/kvasir", out: "export/kvasir" });
 * ```
 */
export async function exportRun(options: ExportOptions): Promise<ExportResult> {
  // Cheap checks first: a bad opset or --out is reported before the checkpoint is read.
  checkOpset(options.opset ?? DEFAULT_OPSET);
  await checkOutFolder(options.out);
  const run = await openRun(options.checkpoint, options.peft);
  try {
    return await writeExport(run, options);
  } finally {
    run.dispose();
  }
}
