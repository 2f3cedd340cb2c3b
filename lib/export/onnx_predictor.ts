/**
 * Predicting with an export folder instead of the tfjs model: `encoder.onnx` then `head.onnx`
 * in onnxruntime on each tile, as a `predictImage` predictor (semantic exports).
 *
 * @module
 */
import { join } from "node:path";
import { type Tensor4D, tf } from "../backend/tf.ts";
import type { Tile } from "../data/tiler.ts";
import type { PredictFn } from "../eval/predict_image.ts";
import { encoderInput } from "./image_input.ts";
import { EXPORT_MANIFEST_FILE, type ExportManifest } from "./manifest.ts";
import { type OnnxSession, openOnnxSession } from "./onnx_runtime.ts";

/** An opened semantic export. */
export interface OnnxPredictor {
  manifest: ExportManifest;
  /** Model input side S. */
  imageSize: number;
  /** The `predictImage` predictor: class logits `[B, C, S/4, S/4]` for the tiles. */
  predict: PredictFn;
  close(): Promise<void>;
}

/** Reads `dir/model.json`; throws a one-line `Error` naming the file when it is not an export. */
export async function readExportManifest(dir: string): Promise<ExportManifest> {
  const path = join(dir, EXPORT_MANIFEST_FILE);
  let manifest: ExportManifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : "not valid JSON";
    throw new Error(`Cannot read ONNX export "${path}": ${why}`);
  }
  if (manifest?.format !== "mopeft-onnx" || manifest.version !== 1) {
    throw new Error(`Cannot read ONNX export "${path}": not a mopeft model.json (version 1)`);
  }
  return manifest;
}

/**
 * Opens the semantic export in `dir` for prediction.
 *
 * @example
 * ```ts ignore
 * const onnx = await openOnnxPredictor("export/kvasir");
 * const { classes } = await predictImage(onnx.predict, image, { size: onnx.imageSize, numClasses: 3 });
 * await onnx.close();
 * ```
 */
export async function openOnnxPredictor(dir: string): Promise<OnnxPredictor> {
  const manifest = await readExportManifest(dir);
  if (manifest.task !== "semantic") {
    throw new Error(
      `Cannot predict with ONNX export "${dir}": it is a ${manifest.task} export; ` +
        `predict --onnx runs semantic exports (use --checkpoint and --peft)`,
    );
  }
  const imageSize = manifest.preprocessing.longestSide;
  const encoder = await openOnnxSession(join(dir, manifest.graphs.encoder.file));
  let head: OnnxSession;
  try {
    head = await openOnnxSession(join(dir, manifest.graphs.head.file));
  } catch (error) {
    await encoder.close();
    throw error;
  }
  const predict = async (_images: Tensor4D, tiles: readonly Tile[]): Promise<Tensor4D> => {
    const all: Float32Array[] = [];
    let dims: number[] = [];
    for (const tile of tiles) {
      const { image_embeddings } = await encoder.run({
        image: { data: encoderInput(tile), dims: [1, 3, imageSize, imageSize] },
      });
      const { logits } = await head.run({ image_embeddings: image_embeddings! });
      all.push(logits!.data as Float32Array);
      dims = logits!.dims;
    }
    const values = new Float32Array(all.reduce((n, a) => n + a.length, 0));
    let offset = 0;
    for (const part of all) {
      values.set(part, offset);
      offset += part.length;
    }
    return tf.tensor4d(values, [tiles.length, dims[1]!, dims[2]!, dims[3]!]);
  };
  return {
    manifest,
    imageSize,
    predict,
    async close() {
      await encoder.close();
      await head.close();
    },
  };
}
