/**
 * Grouping a stream of tiles into training or evaluation batches, read one batch ahead.
 *
 * @module
 */
import { prefetch } from "./prefetch.ts";

/**
 * The items of `items` in arrays of `batchSize` (the last one may be smaller); the next batch is
 * read while the caller computes on the current one.
 *
 * @example
 * ```ts ignore
 * for await (const batch of batchesOf(reader.tiles(0), 4)) train(batch);
 * ```
 */
export function batchesOf<T>(items: AsyncIterable<T>, batchSize: number): AsyncGenerator<T[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`Batch size must be a positive integer, got ${batchSize}`);
  }
  async function* group(): AsyncGenerator<T[]> {
    let batch: T[] = [];
    for await (const item of items) {
      batch.push(item);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
  return prefetch(group(), 1);
}
