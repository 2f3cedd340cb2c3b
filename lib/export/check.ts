/**
 * `mopeft export --check IMAGE`: runs the written files in onnxruntime on one image, cut as
 * `predict` cuts it (its first tile), and compares every output with the tfjs model's: the
 * encoder's embeddings, the head's logits (or boxes and scores) fed the ONNX embeddings, the
 * class maps, and the promptable decoder on one point.
 *
 * @module
 */
import { join } from "node:path";
import { type Tensor4D, tf } from "../backend/tf.ts";
import { cutTiles, type Tile } from "../data/tiler.ts";
import { maskToBox } from "../decoder/masks_to_boxes.ts";
import { decodeMasks } from "../decoder/mask_decoder.ts";
import { postprocessMasks } from "../decoder/postprocess.ts";
import { pointEmbeddings } from "../decoder/prompt_encoder.ts";
import { encodeImage } from "../encoder/image_encoder.ts";
import { decodeRgb } from "../image/decode.ts";
import type { OpenRun } from "../run/open_run.ts";
import { tilesToBatch } from "../train/tile_batch.ts";
import { upsampleLogits } from "../train/upsample.ts";
import { promptDecoderWeights } from "./decoder_graph.ts";
import { encoderInput } from "./image_input.ts";
import { type OnnxValue, openOnnxSession } from "./onnx_runtime.ts";

/** The largest differences of one output. */
export interface OutputDifference {
  /** Largest absolute difference. */
  maxAbs: number;
  /** `maxAbs` over the tfjs output's largest magnitude. */
  maxRel: number;
}

/** What {@link checkExport} reports. */
export interface ExportCheck {
  image: string;
  /** `[height, width]` of the content in the S x S input. */
  inputSize: [number, number];
  encoder: { image_embeddings: OutputDifference };
  head: Record<string, OutputDifference>;
  decoder: Record<string, OutputDifference>;
  /**
   * Semantic: every pixel of the content gets the same class from the ONNX and the tfjs logits
   * (argmax at S/4); detection: every query's best class is the same.
   */
  classMapsAgree: boolean;
  /** The share of pixels (semantic) or queries (detection) whose class agrees. */
  classAgreement: number;
}

/** The differences between `actual` and the reference `expected`. */
export function outputDifference(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): OutputDifference {
  if (actual.length !== expected.length) {
    throw new RangeError(`outputs differ in size: ${actual.length} and ${expected.length}`);
  }
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs };
}

/**
 * A detection head's outputs in the form head.onnx gives them, from the tfjs model's: each
 * query's box (masks_to_boxes on the mask upsampled to S) and class scores.
 */
export function detectionHeadOutputs(
  lowResMasks: Float32Array,
  classLogits: Float32Array,
  queries: number,
  lowResSize: number,
  size: number,
): { boxes: Float32Array; scores: Float32Array } {
  const full = tf.tidy(() =>
    upsampleLogits(tf.tensor4d(lowResMasks, [1, queries, lowResSize, lowResSize]), size, size)
      .dataSync()
  ) as Float32Array;
  const channels = classLogits.length / queries;
  const classes = channels - 1;
  const boxes = new Float32Array(queries * 4);
  const scores = new Float32Array(queries * classes);
  for (let q = 0; q < queries; q++) {
    const mask = maskToBox(full.subarray(q * size * size, (q + 1) * size * size), size, size);
    if (!mask) continue;
    boxes.set(mask.box, q * 4);
    const row = classLogits.subarray(q * channels, (q + 1) * channels);
    const max = Math.max(...row);
    let sum = 0;
    for (const value of row) sum += Math.exp(value - max);
    for (let c = 0; c < classes; c++) {
      scores[q * classes + c] = Math.exp(row[c]! - max) / sum * mask.meanProbability;
    }
  }
  return { boxes, scores };
}

function argmaxAgreement(
  a: Float32Array,
  b: Float32Array,
  classes: number,
  cells: number,
  keep: (cell: number) => boolean,
): number {
  let agree = 0;
  let counted = 0;
  for (let cell = 0; cell < cells; cell++) {
    if (!keep(cell)) continue;
    let bestA = 0;
    let bestB = 0;
    for (let c = 1; c < classes; c++) {
      if (a[c * cells + cell]! > a[bestA * cells + cell]!) bestA = c;
      if (b[c * cells + cell]! > b[bestB * cells + cell]!) bestB = c;
    }
    counted++;
    if (bestA === bestB) agree++;
  }
  return counted > 0 ? agree / counted : 1;
}

async function firstTile(path: string, size: number): Promise<Tile> {
  const image = await decodeRgb(path);
  for await (const tile of cutTiles(image, null, { size })) return tile;
  throw new Error(`Cannot check with "${path}": it gives no tile`);
}

/**
 * Runs the export in `dir` on `imagePath` and compares it with `run` (the run it was made from).
 *
 * @example
 * ```ts ignore
 * const report = await checkExport("export/kvasir", run, "photo.jpg");
 * report.encoder.image_embeddings.maxRel; // about 1e-6
 * ```
 */
export async function checkExport(
  dir: string,
  run: OpenRun,
  imagePath: string,
): Promise<ExportCheck> {
  const model = run.model;
  const weights = model.weights();
  const arch = weights.architecture;
  const size = arch.encoder.imageSize;
  const grid = arch.encoder.gridSize;
  const tile = await firstTile(imagePath, size);

  // tfjs: the model as predict runs it.
  const { images } = tilesToBatch([tile]);
  const embeddingsCl = encodeImage(weights, images, model.extensions());
  images.dispose();
  const embeddings = tf.tidy(() => embeddingsCl.transpose([0, 3, 1, 2]) as Tensor4D);
  const tfjsEmbeddings = await embeddings.data() as Float32Array;
  embeddings.dispose();

  const session = async (name: string) => await openOnnxSession(join(dir, name));
  const encoder = await session("encoder.onnx");
  const onnxEmbeddings = (await encoder.run({
    image: { data: encoderInput(tile), dims: [1, 3, size, size] },
  })).image_embeddings!;
  await encoder.close();
  const embeddingFeed = { image_embeddings: onnxEmbeddings };

  const head = await session("head.onnx");
  const headOut = await head.run(embeddingFeed);
  await head.close();
  const headDiff: Record<string, OutputDifference> = {};
  let classAgreement: number;
  if (model.head.task === "semantic") {
    const logits = tf.tidy(() =>
      decodeMasks(weights, embeddingsCl, { predictIou: false }).lowResMasks.dataSync()
    ) as Float32Array;
    const onnxLogits = headOut.logits!.data as Float32Array;
    headDiff.logits = outputDifference(onnxLogits, logits);
    const side = 4 * grid;
    const scale = side / size;
    classAgreement = argmaxAgreement(
      onnxLogits,
      logits,
      model.numClasses,
      side * side,
      (cell) =>
        (cell % side) < Math.ceil(tile.validWidth * scale) &&
        Math.floor(cell / side) < Math.ceil(tile.validHeight * scale),
    );
  } else {
    const batch = tilesToBatch([tile]).images;
    const output = model.detect(batch);
    batch.dispose();
    const [masks, classLogits] = [await output.masks.data(), await output.classLogits.data()];
    tf.dispose([output.masks, output.classLogits]);
    const queries = model.head.queries;
    const expected = detectionHeadOutputs(
      masks as Float32Array,
      classLogits as Float32Array,
      queries,
      4 * grid,
      size,
    );
    const scores = headOut.scores!.data as Float32Array;
    headDiff.boxes = outputDifference(headOut.boxes!.data as Float32Array, expected.boxes);
    headDiff.scores = outputDifference(scores, expected.scores);
    // argmaxAgreement reads [classes, cells]; scores are [queries, classes]: transpose first.
    classAgreement = argmaxAgreement(
      transpose(scores, queries, model.numClasses),
      transpose(expected.scores, queries, model.numClasses),
      model.numClasses,
      queries,
      () => true,
    );
  }

  // The promptable decoder on one foreground point at the content's centre.
  const decoderWeights = promptDecoderWeights(run.base.weights, weights);
  const coords = new Float32Array([tile.validWidth / 2, tile.validHeight / 2, 0, 0]);
  const labels = new Float32Array([1, -1]);
  const originalSize: [number, number] = [tile.validHeight, tile.validWidth];
  const decoderRef = tf.tidy(() => {
    const sparse = pointEmbeddings(
      decoderWeights,
      tf.tensor3d(coords, [1, 2, 2]),
      tf.tensor2d(labels, [1, 2]),
    );
    const { lowResMasks, iouPredictions } = decodeMasks(decoderWeights, embeddingsCl, {
      prompts: { sparse },
    });
    return [
      postprocessMasks(lowResMasks, size, originalSize, originalSize).dataSync(),
      iouPredictions!.dataSync(),
      lowResMasks.dataSync(),
    ];
  }) as unknown as Float32Array[];
  embeddingsCl.dispose();
  const decoder = await session("decoder.onnx");
  const maskSide = 4 * grid;
  const decoderOut = await decoder.run(
    {
      ...embeddingFeed,
      point_coords: { data: coords, dims: [1, 2, 2] },
      point_labels: { data: labels, dims: [1, 2] },
      mask_input: { data: new Float32Array(maskSide * maskSide), dims: [1, 1, maskSide, maskSide] },
      has_mask_input: { data: new Float32Array([0]), dims: [1] },
      orig_im_size: { data: new Float32Array(originalSize), dims: [2] },
    } satisfies Record<string, OnnxValue>,
  );
  await decoder.close();
  const decoderDiff = {
    masks: outputDifference(decoderOut.masks!.data as Float32Array, decoderRef[0]!),
    iou_predictions: outputDifference(
      decoderOut.iou_predictions!.data as Float32Array,
      decoderRef[1]!,
    ),
    low_res_masks: outputDifference(
      decoderOut.low_res_masks!.data as Float32Array,
      decoderRef[2]!,
    ),
  };
  return {
    image: imagePath,
    inputSize: [tile.validHeight, tile.validWidth],
    encoder: {
      image_embeddings: outputDifference(onnxEmbeddings.data as Float32Array, tfjsEmbeddings),
    },
    head: headDiff,
    decoder: decoderDiff,
    classMapsAgree: classAgreement === 1,
    classAgreement,
  };
}

/** `[rows, columns]` row-major to `[columns, rows]`. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c]!;
  }
  return out;
}
