/**
 * Recording a trained mixture's gate values over a dataset split, one record per image.
 *
 * @module
 */
import { encodeImage } from "../encoder/image_encoder.ts";
import { cutTiles, type Tile, type TileOptions } from "../data/tiler.ts";
import type { RasterImage } from "../image/decode.ts";
import type { PeftModel } from "../peft/peft_model.ts";
import type { ModuleKind } from "../peft/registry.ts";
import { tilesToBatch } from "../train/tile_batch.ts";
import { type GateImageRecord, GateRecorder } from "./recorder.ts";

/** What {@link recordGates} reads: a split's images and how to tile them (any task's reader). */
export interface ImageSource {
  readonly options: TileOptions;
  samples(): AsyncIterable<{ image: RasterImage }>;
}

/**
 * Runs the encoder over every image of `reader` (a `SegmentationReader` or a `DetectionReader`) and returns each image's gate values per block
 * and module. A large image is cut into tiles; its value is the mean over its tiles (weighted
 * equally), so that every image counts once.
 *
 * @example
 * ```ts ignore
 * const images = await recordGates(model, reader, { batchSize: 4 });
 * const report = gateReport(images, { threshold: 0.5 });
 * ```
 */
export async function recordGates(
  model: PeftModel,
  reader: ImageSource,
  options: { batchSize?: number; onImage?: (index: number) => void } = {},
): Promise<GateImageRecord[]> {
  const batchSize = options.batchSize ?? 1;
  const records: GateImageRecord[] = [];
  const recorder = new GateRecorder();
  let index = 0;
  for await (const sample of reader.samples()) {
    const tiles: Tile[] = [];
    for await (const tile of cutTiles(sample.image, null, reader.options)) tiles.push(tile);
    for (let start = 0; start < tiles.length; start += batchSize) {
      const { images } = tilesToBatch(tiles.slice(start, start + batchSize));
      // Only the gates are wanted: the encoder runs (the decoder does not), its output is dropped.
      encodeImage(model.weights(), images, model.extensions(recorder)).dispose();
      images.dispose();
    }
    await recorder.collect();
    records.push(meanRecord(recorder.images));
    recorder.clear();
    options.onImage?.(index++);
  }
  return records;
}

function meanRecord(tiles: readonly GateImageRecord[]): GateImageRecord {
  const depth = Math.max(0, ...tiles.map((tile) => tile.blocks.length));
  const blocks: GateImageRecord["blocks"] = [];
  for (let block = 0; block < depth; block++) {
    const sums: Partial<Record<ModuleKind, { total: number; count: number }>> = {};
    for (const tile of tiles) {
      for (const [kind, value] of Object.entries(tile.blocks[block] ?? {})) {
        const entry = sums[kind as ModuleKind] ??= { total: 0, count: 0 };
        entry.total += value!;
        entry.count++;
      }
    }
    blocks.push(
      Object.fromEntries(
        Object.entries(sums).map(([kind, { total, count }]) => [kind, total / count]),
      ),
    );
  }
  return { blocks };
}
