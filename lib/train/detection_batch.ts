/**
 * A batch of detection tiles as a training step uses it: the images, and the detection loss
 * against the tiles' objects rasterised at the decoder's output resolution.
 *
 * @module
 */
import type { DetectionTile } from "../data/detection_tiles.ts";
import type { DetectionOutput } from "../decoder/detection_head.ts";
import { detectionLoss, type DetectionLossWeights } from "./detection_loss.ts";
import { rasteriseTargets } from "./detection_targets.ts";
import { tilesToBatch } from "./tile_batch.ts";
import type { PreparedBatch } from "./trainer.ts";

/**
 * Prepares `tiles` for one step of detection training: the trainer's `prepareBatch`. The mask
 * targets are rasterised on the decoder's `S/4` grid (SAM's masks are a quarter of the input).
 *
 * @example
 * ```ts ignore
 * await train(model.detector(), reader, { batchSize: 4, maxSteps: 100, prepareBatch: (tiles) => detectionBatch(tiles) });
 * ```
 */
export function detectionBatch(
  tiles: readonly DetectionTile[],
  weights: DetectionLossWeights = {},
): PreparedBatch<DetectionOutput> {
  const { images, labels } = tilesToBatch(tiles);
  labels?.dispose();
  const size = tiles[0]!.size;
  const targets = tiles.map((tile) => rasteriseTargets(tile.objects, size, size / 4));
  return {
    images,
    loss: (output) => detectionLoss(output, targets, weights),
    dispose: () => images.dispose(),
  };
}
