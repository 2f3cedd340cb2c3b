/**
 * Reading ahead: start producing the next item of an async sequence while the consumer is still
 * working on the current one.
 *
 * @module
 */

/**
 * Yields the items of `source` in order, keeping `depth` further items in flight. With
 * `depth = 1`, item i + 1 is being decoded while the caller computes on item i.
 *
 * @example
 * ```ts ignore
 * for await (const batch of prefetch(reader.batches(8))) {
 *   await trainStep(batch); // the next batch is read meanwhile
 * }
 * ```
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T> {
  if (!Number.isInteger(depth) || depth < 0) {
    throw new RangeError(`Prefetch depth must be a non-negative integer, got ${depth}`);
  }
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<IteratorResult<T>>[] = [];
  const pull = () => {
    const next = iterator.next();
    // A read-ahead that fails after the consumer stopped must not become an unhandled rejection;
    // when the consumer does reach it, awaiting `next` still throws.
    next.catch(() => {});
    pending.push(next);
  };
  let finished = false;
  try {
    for (let i = 0; i < depth; i++) pull();
    while (true) {
      if (pending.length === 0) pull();
      const result = await pending.shift()!;
      if (result.done) {
        finished = true;
        return;
      }
      pull();
      yield result.value;
    }
  } finally {
    if (!finished) await iterator.return?.();
  }
}
