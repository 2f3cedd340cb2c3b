/**
 * Streaming a detection split as model inputs, the way `SegmentationReader` streams a semantic
 * one: one image decoded at a time (the next one while the current one computes), the image order
 * shuffled per epoch with a seed, each image cut by the shared tiler, and each tile carrying the
 * objects that belong to it (`detection_tiles.ts`: DOTA's rule, cut objects clipped and the
 * mostly-outside ones marked difficult) in tile pixels.
 *
 * @module
 */
import { decodeRgb } from "../image/decode.ts";
import type { RasterImage } from "../image/decode.ts";
import type { DetectionImage, DetectionSplit } from "./detection_split.ts";
import { checkTileKeep, objectsInTile, TILE_KEEP_FRACTION } from "./detection_tiles.ts";
import type { DetectionTile } from "./detection_tiles.ts";
import { batchesOf } from "./batches.ts";
import { prefetch } from "./prefetch.ts";
import { epochOrder } from "./shuffle.ts";
import type { SkippedFile } from "./split.ts";
import { cutTiles, planTiles } from "./tiler.ts";
import type { TileOptions } from "./tiler.ts";

/** One decoded image with its annotation. */
export interface DetectionSample {
  source: DetectionImage;
  /** RGB, `[height, width, 3]`. */
  image: RasterImage;
}

/** Options of {@link DetectionReader}. */
export interface DetectionReaderOptions extends TileOptions {
  /** Seed of the per-epoch shuffle of the images; without it, images come in id order. */
  seed?: number;
  /** Skip images that cannot be read instead of failing; each one goes to `onSkip`. */
  skipBad?: boolean;
  /** Called once per skipped image; the library itself never prints. */
  onSkip?: (skipped: SkippedFile) => void;
  /**
   * Fraction of a cut object's area a tile must hold, strictly more, to keep it as it is; a cut
   * object at or below it is kept as difficult (`objectsInTile`); default 0.7, as DOTA's devkit.
   */
  tileKeep?: number;
}

/**
 * Decodes one image of a split and checks that its size is the annotation's.
 *
 * @example
 * ```ts ignore
 * const sample = await readDetectionSample(split.images[0]!, split.source);
 * ```
 */
export async function readDetectionSample(
  source: DetectionImage,
  annotations: string,
): Promise<DetectionSample> {
  const image = await decodeRgb(source.file);
  if (image.width !== source.width || image.height !== source.height) {
    throw new RangeError(
      `Cannot read image "${source.file}": it is ${image.width}x${image.height}, ` +
        `"${annotations}" says ${source.width}x${source.height}`,
    );
  }
  return { source, image };
}

/**
 * A detection split's images as decoded samples, as tiles with their objects, or as batches.
 *
 * @example
 * ```ts ignore
 * const split = await loadDetectionSplit({ data: "fixtures/detection", split: "train" });
 * const reader = new DetectionReader(split, { size: 128, seed: 0 });
 * for await (const batch of reader.batches(4, 0)) {
 *   // batch[i].image: [128, 128, 3] uint8; batch[i].objects: boxes in tile pixels
 * }
 * ```
 */
export class DetectionReader {
  readonly split: DetectionSplit;
  readonly options: Readonly<DetectionReaderOptions>;
  /** Images skipped so far, with reasons. */
  readonly skipped: SkippedFile[] = [];
  #bad = new Set<number>();

  constructor(split: DetectionSplit, options: DetectionReaderOptions) {
    this.split = split;
    this.options = options;
    planTiles(1, 1, options);
    checkTileKeep(options.tileKeep ?? TILE_KEEP_FRACTION);
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new RangeError(`Shuffle seed must be an integer, got ${options.seed}`);
    }
  }

  /** Number of images in the split. */
  get length(): number {
    return this.split.images.length;
  }

  /** The image order of `epoch`: shuffled with `seed`, or by id without one. */
  order(epoch = 0): DetectionImage[] {
    const { seed } = this.options;
    return seed === undefined
      ? [...this.split.images]
      : epochOrder(this.split.images, { seed, epoch });
  }

  /** Decoded images of one epoch, one at a time; the next is decoded in the meantime. */
  samples(epoch = 0): AsyncGenerator<DetectionSample> {
    return prefetch(this.#decodeInOrder(epoch), 1);
  }

  /** Every image's tiles with their objects, in image order then tile order. */
  async *tiles(epoch = 0): AsyncGenerator<DetectionTile> {
    for await (const sample of this.samples(epoch)) {
      for await (const tile of cutTiles(sample.image, null, this.options)) {
        yield {
          ...tile,
          source: sample.source,
          objects: objectsInTile(sample.source.objects, tile, this.options.tileKeep),
        };
      }
    }
  }

  /** Tiles in batches of `batchSize` (the last may be smaller), the next read meanwhile. */
  batches(batchSize: number, epoch = 0): AsyncGenerator<DetectionTile[]> {
    return batchesOf(this.tiles(epoch), batchSize);
  }

  async *#decodeInOrder(epoch: number): AsyncGenerator<DetectionSample> {
    const { skipBad, onSkip } = this.options;
    for (const source of this.order(epoch)) {
      if (this.#bad.has(source.id)) continue;
      try {
        yield await readDetectionSample(source, this.split.source);
      } catch (error) {
        if (!skipBad) throw error;
        this.#bad.add(source.id);
        const skipped = { path: source.file, reason: (error as Error).message };
        this.skipped.push(skipped);
        onSkip?.(skipped);
      }
    }
  }
}
