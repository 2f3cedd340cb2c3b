/**
 * Streaming a dataset split as model inputs: one image decoded at a time (never the whole split),
 * the next one decoded while the current one computes, files shuffled per epoch with a seed.
 *
 * Training consumes {@link SegmentationReader.batches}; evaluation consumes
 * {@link SegmentationReader.samples}, cuts each sample with `cutTiles`, and puts predictions
 * back together with a `TileStitcher` at the label's resolution.
 *
 * @module
 */
import { decodeRgb } from "../image/decode.ts";
import type { RasterImage } from "../image/decode.ts";
import { readLabelPng } from "../image/label_png.ts";
import { checkLabelValues } from "./label_values.ts";
import type { ImageLabelPair } from "./pairing.ts";
import { batchesOf } from "./batches.ts";
import { prefetch } from "./prefetch.ts";
import { epochOrder } from "./shuffle.ts";
import type { DatasetSplit, SkippedFile } from "./split.ts";
import { cutTiles, planTiles } from "./tiler.ts";
import type { Tile, TileOptions } from "./tiler.ts";

/** One decoded image with its label, at full resolution. */
export interface Sample {
  pair: ImageLabelPair;
  /** RGB, `[height, width, 3]`. */
  image: RasterImage;
  /** One channel, same size as the image; `null` when the reader was built with `labels: false`. */
  label: RasterImage | null;
}

/** A tile together with the files it was cut from. */
export interface SampleTile extends Tile {
  pair: ImageLabelPair;
}

/** Options of {@link SegmentationReader}. */
export interface ReaderOptions extends TileOptions {
  /**
   * Seed of the per-epoch shuffle of the file order. Without it, files come in sorted stem order
   * (what evaluation wants).
   */
  seed?: number;
  /** Read labels too (default `true`). */
  labels?: boolean;
  /**
   * Skip files that cannot be read (unreadable or truncated image, bad label) instead of
   * failing; each one is reported to `onSkip` and kept in `skipped`.
   */
  skipBad?: boolean;
  /** Called once per skipped file; the library itself never prints. */
  onSkip?: (skipped: SkippedFile) => void;
}

/**
 * Reads one image/label pair and checks it: an RGB image, a single-channel label of the same
 * size whose values are class indices or 255.
 *
 * @example
 * ```ts ignore
 * const sample = await readSample(pairs[0], { numClasses: 3 });
 * ```
 */
export async function readSample(
  pair: ImageLabelPair,
  options: { numClasses: number; labels?: boolean },
): Promise<Sample> {
  const withLabels = options.labels ?? true;
  const [image, label] = await Promise.all([
    decodeRgb(pair.imagePath),
    withLabels ? readLabelPng(pair.labelPath) : Promise.resolve(null),
  ]);
  if (label) {
    if (label.width !== image.width || label.height !== image.height) {
      throw new RangeError(
        `Cannot read label "${pair.labelPath}": it is ${label.width}x${label.height}, ` +
          `its image is ${image.width}x${image.height}`,
      );
    }
    checkLabelValues(label.data, options.numClasses, pair.labelPath);
  }
  return { pair, image, label };
}

/**
 * A split's images as full-resolution samples, as tiles, or as batches of tiles.
 *
 * @example
 * ```ts ignore
 * const split = await loadSplit(await resolveDataset({ data: "fixtures/mess/synthetic" }));
 * const reader = new SegmentationReader(split, { size: 256, seed: 0 });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for await (const batch of reader.batches(4, epoch)) {
 *     // batch[i].image: [256, 256, 3] uint8; batch[i].label: [256, 256], 255 = ignore
 *   }
 * }
 * ```
 */
export class SegmentationReader {
  readonly split: DatasetSplit;
  readonly options: Readonly<ReaderOptions>;
  /** Files skipped so far (when listing the split, then while reading), with reasons. */
  readonly skipped: SkippedFile[];
  #badPaths = new Set<string>();

  constructor(split: DatasetSplit, options: ReaderOptions) {
    this.split = split;
    this.options = options;
    this.skipped = [...split.skipped];
    // Check the tile geometry once, up front, rather than at the first image.
    planTiles(1, 1, options);
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new RangeError(`Shuffle seed must be an integer, got ${options.seed}`);
    }
  }

  /** Number of image files in the split. */
  get length(): number {
    return this.split.pairs.length;
  }

  /** Number of classes, from the split's class names. */
  get numClasses(): number {
    return this.split.dataset.classNames.length;
  }

  /** The file order of `epoch`: shuffled with `seed`, or sorted when there is no seed. */
  order(epoch = 0): ImageLabelPair[] {
    const { seed } = this.options;
    return seed === undefined
      ? [...this.split.pairs]
      : epochOrder(this.split.pairs, { seed, epoch });
  }

  /** Decoded samples of one epoch, one at a time; the next file is decoded in the meantime. */
  samples(epoch = 0): AsyncGenerator<Sample> {
    return prefetch(this.#decodeInOrder(epoch), 1);
  }

  /** The tiles of every sample of one epoch, in file order then tile order. */
  async *tiles(epoch = 0): AsyncGenerator<SampleTile> {
    for await (const sample of this.samples(epoch)) {
      for await (const tile of cutTiles(sample.image, sample.label, this.options)) {
        yield { ...tile, pair: sample.pair };
      }
    }
  }

  /**
   * Tiles grouped into batches of `batchSize` (the last one may be smaller); the next batch is
   * read while the caller computes on the current one.
   */
  batches(batchSize: number, epoch = 0): AsyncGenerator<SampleTile[]> {
    return batchesOf(this.tiles(epoch), batchSize);
  }

  async *#decodeInOrder(epoch: number): AsyncGenerator<Sample> {
    const { skipBad, onSkip } = this.options;
    for (const pair of this.order(epoch)) {
      if (this.#badPaths.has(pair.imagePath)) continue;
      try {
        yield await readSample(pair, {
          numClasses: this.numClasses,
          labels: this.options.labels,
        });
      } catch (error) {
        if (!skipBad) throw error;
        // Counted once, even when the same bad file comes up again in a later epoch.
        this.#badPaths.add(pair.imagePath);
        const reason = (error as Error).message;
        const skipped = { path: pair.imagePath, reason };
        this.skipped.push(skipped);
        onSkip?.(skipped);
      }
    }
  }
}
