/**
 * Learning-rate schedules as pure functions of the step (nanoGPT's `get_lr`): the same step gives
 * the same rate, so a resumed run follows exactly the schedule of an uninterrupted one.
 *
 * @module
 */

/** A learning-rate schedule; every field but `base` is optional. */
export interface LearningRateSchedule {
  /** Peak learning rate (the thesis: 1e-4). */
  base: number;
  /** Steps of linear warmup from `base / warmupSteps` up to `base`; default 0 (none). */
  warmupSteps?: number;
  /** `constant` (default) or `cosine` decay from `base` to `minLr` over the steps after warmup. */
  decay?: "constant" | "cosine";
  /** Total steps of the run (needed by `cosine`): the decay reaches `minLr` here. */
  totalSteps?: number;
  /** Floor of the cosine decay; default 0. */
  minLr?: number;
}

/**
 * Checks a schedule once, at the boundary; throws a `RangeError` naming the bad field.
 *
 * @example
 * ```ts
 * import { checkSchedule } from "./schedule.ts";
 * checkSchedule({ base: 1e-4, decay: "cosine", totalSteps: 1000 });
 * ```
 */
export function checkSchedule(schedule: LearningRateSchedule): void {
  const { base, warmupSteps = 0, decay = "constant", totalSteps, minLr = 0 } = schedule;
  if (!(Number.isFinite(base) && base > 0)) {
    throw new RangeError(`Learning rate must be a positive number, got ${base}`);
  }
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new RangeError(`Warmup steps must be a non-negative integer, got ${warmupSteps}`);
  }
  if (decay !== "constant" && decay !== "cosine") {
    throw new RangeError(`Learning-rate decay must be "constant" or "cosine", got "${decay}"`);
  }
  if (!(Number.isFinite(minLr) && minLr >= 0 && minLr <= base)) {
    throw new RangeError(`Minimum learning rate must be in [0, ${base}], got ${minLr}`);
  }
  if (decay === "cosine") {
    if (totalSteps === undefined || !Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
      throw new RangeError(
        `Cosine decay needs totalSteps, an integer above the ${warmupSteps} warmup steps; got ${totalSteps}`,
      );
    }
  }
}

/**
 * The learning rate of step `step` (0-based: the rate used for the step's update).
 *
 * - warmup: `base * (step + 1) / warmupSteps` for `step < warmupSteps`;
 * - then `base` (constant), or `minLr + (base - minLr) * (1 + cos(pi * progress)) / 2` with
 *   progress going from 0 at the end of warmup to 1 at `totalSteps` (and staying at `minLr`
 *   after).
 *
 * @example
 * ```ts
 * import { learningRateAt } from "./schedule.ts";
 * learningRateAt(0, { base: 1e-3, warmupSteps: 10 }); // 1e-4
 * learningRateAt(55, { base: 1, decay: "cosine", warmupSteps: 10, totalSteps: 100 }); // 0.5
 * ```
 */
export function learningRateAt(step: number, schedule: LearningRateSchedule): number {
  const { base, warmupSteps = 0, decay = "constant", totalSteps = 0, minLr = 0 } = schedule;
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  if (decay === "constant") return base;
  const progress = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
  return minLr + ((base - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}
