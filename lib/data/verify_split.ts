/**
 * Checking a whole split before training starts: every image and label decodes, their sizes
 * agree and the label holds only class indices (or 255). A corrupt file is found in seconds, not
 * when the batch that holds it comes up hours into a run.
 *
 * @module
 */
import { readSample } from "./reader.ts";
import type { DatasetSplit, SkippedFile } from "./split.ts";

/** Options of {@link verifySplit}. */
export interface VerifySplitOptions {
  /** Drop bad pairs (each reported to `onSkip`) instead of throwing at the first one. */
  skipBad?: boolean;
  onSkip?: (skipped: SkippedFile) => void;
  /** Called after each pair is checked, with the count so far (for progress). */
  onChecked?: (checked: number, total: number) => void;
  /** Pairs decoded at once (default 2: decoding runs on libvips's threads). */
  concurrency?: number;
}

/**
 * Decodes every pair of `split` once and returns the split with the bad ones dropped (under
 * `skipBad`, with them added to `skipped`). Without `skipBad` the first bad file (in file order)
 * throws its one-line error, e.g. `Cannot read image "ds/img/a.jpg": premature end of JPEG`.
 *
 * @example
 * ```ts ignore
 * const split = await loadSplit(await resolveDataset({ data: "fixtures/mess/synthetic" }));
 * const checked = await verifySplit(split); // throws if any file is unreadable
 * ```
 */
export async function verifySplit(
  split: DatasetSplit,
  options: VerifySplitOptions = {},
): Promise<DatasetSplit> {
  const numClasses = split.dataset.classNames.length;
  const total = split.pairs.length;
  const errors: Array<Error | null> = new Array(total).fill(null);
  let next = 0;
  let checked = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      try {
        // Decoded and dropped at once: only `concurrency` images are in memory at a time.
        await readSample(split.pairs[index]!, { numClasses });
      } catch (error) {
        errors[index] = error as Error;
      }
      options.onChecked?.(++checked, total);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 2, total));
  await Promise.all(Array.from({ length: workers }, worker));
  const firstBad = errors.findIndex((error) => error !== null);
  if (firstBad === -1) return split;
  if (!options.skipBad) throw errors[firstBad]!;
  const skipped = [...split.skipped];
  const pairs = split.pairs.filter((pair, i) => {
    const error = errors[i];
    if (!error) return true;
    const entry = { path: pair.imagePath, reason: error.message };
    skipped.push(entry);
    options.onSkip?.(entry);
    return false;
  });
  if (pairs.length === 0) {
    throw new Error(`Cannot read dataset "${split.dataset.root}": no readable image in its split`);
  }
  return { ...split, pairs, skipped };
}
