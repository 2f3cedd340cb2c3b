/**
 * Summaries of repeated timings.
 *
 * @module
 */

/** Minimum, median and maximum of a set of timings, with the samples themselves. */
export interface TimingSummary {
  /** Fastest run, milliseconds. */
  minMs: number;
  /** Median run (the mean of the two middle runs for an even count), milliseconds. */
  medianMs: number;
  /** Slowest run, milliseconds. */
  maxMs: number;
  /** Every timed run in order, milliseconds. */
  samplesMs: number[];
}

/**
 * Summarises `samples` (milliseconds, at least one), rounded to 0.1 ms.
 *
 * @example
 * ```ts
 * import { summariseTimings } from "./timing_summary.ts";
 * summariseTimings([30, 10, 20]).medianMs; // 20
 * ```
 */
export function summariseTimings(samples: readonly number[]): TimingSummary {
  if (samples.length === 0) throw new RangeError("summariseTimings() needs at least one sample");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return {
    minMs: round(sorted[0]!),
    medianMs: round(median),
    maxMs: round(sorted[sorted.length - 1]!),
    samplesMs: samples.map(round),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
