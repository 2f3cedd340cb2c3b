/**
 * A batch of detection tiles as a training step uses it: the images, and the detection loss
 * against the tiles' objects rasterised at the decoder's output resolution.
 *
 * @module
 */
import type { DetectionTile } from "../data/detection_tiles.ts";
import type { DetectionOutput } from "../decoder/detection_head.ts";
import { tf } from "../backend/tf.ts";
import { detectionLoss, type DetectionLossWeights, matchBatch } from "./detection_loss.ts";
import type { Assignment } from "./hungarian.ts";
import { rasteriseTargets } from "./detection_targets.ts";
import { tilesToBatch } from "./tile_batch.ts";
import type { PreparedBatch } from "./trainer.ts";

/**
 * Prepares `tiles` for one step of detection training: the trainer's `prepareBatch`. The mask
 * targets are rasterised on the decoder's `S/4` grid (SAM's masks are a quarter of the input).
 * With `matchAhead` (default: on webgpu) queries are matched before the step on an extra,
 * untaped forward pass, instead of inside the loss by a synchronous read.
 *
 * @example
 * ```ts ignore
 * await train(model.detector(), reader, { batchSize: 4, maxSteps: 100, prepareBatch: (tiles) => detectionBatch(tiles) });
 * ```
 */
export function detectionBatch(
  tiles: readonly DetectionTile[],
  weights: DetectionLossWeights = {},
  options: { matchAhead?: boolean } = {},
): PreparedBatch<DetectionOutput> {
  const { images, labels } = tilesToBatch(tiles);
  labels?.dispose();
  const size = tiles[0]!.size;
  const targets = tiles.map((tile) => rasteriseTargets(tile.objects, size, size / 4));
  // webgpu has no synchronous read (tfjs reads through an OffscreenCanvas, which Deno lacks):
  // there the matching is done ahead, on an untaped forward pass read asynchronously.
  const matchAhead = options.matchAhead ?? tf.getBackend() === "webgpu";
  let matches: Assignment[][] | undefined;
  return {
    images,
    loss: (output) => detectionLoss(output, targets, weights, matches),
    dispose: () => images.dispose(),
    beforeStep: matchAhead
      ? async (forward) => {
        const output = forward(images);
        try {
          const [batch, queries, height, width] = output.masks.shape;
          const [masks, classes] = await Promise.all([
            output.masks.data() as Promise<Float32Array>,
            output.classLogits.data() as Promise<Float32Array>,
          ]);
          const channels = output.classLogits.shape[2];
          matches = matchBatch(
            masks,
            classes,
            [batch, queries, height * width, channels],
            targets,
            weights,
          );
        } finally {
          tf.dispose([output.masks, output.classLogits]);
        }
      }
      : undefined,
  };
}
