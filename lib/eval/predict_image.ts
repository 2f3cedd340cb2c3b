/**
 * Predicting a whole image of any size: cut into tiles, class logits per tile, logits put back
 * together at the original resolution (averaged where tiles overlap), argmax.
 *
 * @module
 */
import { type Tensor4D, tf } from "../backend/tf.ts";
import { cutTiles, type Tile } from "../data/tiler.ts";
import type { RasterImage } from "../image/decode.ts";
import { tilesToBatch } from "../train/tile_batch.ts";
import { upsampleLogits } from "../train/upsample.ts";
import { LogitStitcher } from "./logit_stitcher.ts";

/**
 * A model's prediction: normalised, padded tiles `[B, S, S, 3]` to class logits `[B, C, h, w]`
 * (S/4 for SAM's decoder; any square size, upsampled bilinearly to S when it is not S). The
 * tiles themselves come along for predictors that need them (test oracles read `tile.label`,
 * the ONNX predictor their raw pixels); a model ignores them. The returned tensor (or the one
 * the promise gives) is disposed by the caller.
 */
export type PredictFn = (
  images: Tensor4D,
  tiles: readonly Tile[],
) => Tensor4D | Promise<Tensor4D>;

/** Options of {@link predictImage}. */
export interface PredictImageOptions {
  /** Model input side S. */
  size: number;
  /** Pixels shared by neighbouring tiles of a large image (e.g. S/8); default 0. */
  overlap?: number;
  /** Number of classes C the predictor returns. */
  numClasses: number;
  /** Tiles per forward pass; default 1. */
  batchSize?: number;
  /** A label to cut along with the image (given to the predictor in `tiles`); default none. */
  label?: RasterImage | null;
  /** Also return the stitched logits (for comparisons, e.g. the web page's with predict's). */
  logits?: boolean;
}

/** What {@link predictImage} returns. */
export interface ImagePrediction {
  /** Class index per pixel, `[height, width]`, one channel, at the image's original size. */
  classes: RasterImage;
  /** Tiles the image was cut into. */
  tiles: number;
  /** The averaged logits `[height, width, C]`, when asked for with `options.logits`. */
  logits?: Float32Array;
}

/**
 * Predicts the class of every pixel of `image` (RGB, any size).
 *
 * @example
 * ```ts ignore
 * const { classes } = await predictImage((x) => model.forward(x), await decodeRgb("a.jpg"), {
 *   size: 1024, overlap: 128, numClasses: 3,
 * });
 * await writeLabelPng("a.png", classes);
 * ```
 */
export async function predictImage(
  predict: PredictFn,
  image: RasterImage,
  options: PredictImageOptions,
): Promise<ImagePrediction> {
  const { size, overlap = 0, numClasses, batchSize = 1 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Batch size must be a positive integer, got ${batchSize}`);
  }
  const stitcher = new LogitStitcher(image.width, image.height, numClasses);
  let tiles = 0;
  let batch: Tile[] = [];
  const flush = async () => {
    // A synchronous predictor runs inside a tidy scope (its intermediates go with it); an
    // asynchronous one (onnxruntime) returns only the tensor it makes.
    let pending: Promise<Tensor4D> | undefined;
    const made = tf.tidy(() => {
      const { images, labels } = tilesToBatch(batch);
      labels?.dispose();
      const out = predict(images, batch);
      if (out instanceof Promise) {
        pending = out;
        return [] as Tensor4D[];
      }
      return [out];
    });
    const raw = made[0] ?? await pending!;
    const logits = tf.tidy(() => {
      const [count, classes] = raw.shape;
      if (count !== batch.length || classes !== numClasses) {
        throw new RangeError(
          `Predictor returned [${raw.shape}], expected [${batch.length}, ${numClasses}, h, w]`,
        );
      }
      return upsampleLogits(raw, size, size).transpose([0, 2, 3, 1]); // [B, S, S, C]
    });
    raw.dispose();
    const values = await logits.data() as Float32Array;
    logits.dispose();
    const perTile = size * size * numClasses;
    batch.forEach((tile, b) => stitcher.add(tile, values.subarray(b * perTile, (b + 1) * perTile)));
    tiles += batch.length;
    batch = [];
  };
  for await (const tile of cutTiles(image, options.label ?? null, { size, overlap })) {
    batch.push(tile);
    if (batch.length === batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return {
    classes: { data: stitcher.argmax(), width: image.width, height: image.height, channels: 1 },
    tiles,
    ...(options.logits ? { logits: stitcher.logits() } : {}),
  };
}
