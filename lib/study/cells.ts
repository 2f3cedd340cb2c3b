/**
 * The cells of a study (dataset x method x seed), in one fixed order that every process agrees
 * on, each with its id and folder. The `baseline` (SAM's head as initialised, untrained) does not
 * depend on the seed, so it is one cell per dataset, at the first seed; only with a hold-out,
 * whose scored part each seed draws, does it get a cell per seed.
 *
 * @module
 */
import {
  BASELINE,
  methodTrainOptions,
  type Study,
  type StudyDataset,
  type StudyMethod,
} from "./study_file.ts";

/** One experiment of a study. */
export interface StudyCell {
  /** Position in the study's fixed order (datasets, then methods, then seeds). */
  index: number;
  /** `<dataset>/<method>/seed-<k>`, also the cell's folder under `DIR/cells`. */
  id: string;
  dataset: StudyDataset;
  method: StudyMethod;
  seed: number;
}

/** The cells' folder inside a study's output folder. */
export const CELLS_FOLDER = "cells";

/**
 * Every cell of `study`, dataset-major: all methods and seeds of the first dataset come first
 * (see {@link seedsOf} for the baseline's).
 *
 * @example
 * ```ts ignore
 * studyCells(study).map((cell) => cell.id);
 * // ["kvasir_instrument/baseline/seed-0", "kvasir_instrument/lora/seed-0", ...]
 * ```
 */
export function studyCells(study: Study): StudyCell[] {
  const cells: StudyCell[] = [];
  for (const dataset of study.datasets) {
    for (const method of study.methods) {
      for (const seed of seedsOf(study, method)) {
        cells.push({
          index: cells.length,
          id: cellId(dataset.name, method.name, seed),
          dataset,
          method,
          seed,
        });
      }
    }
  }
  return cells;
}

/**
 * The seeds `method` runs with: every seed of the study, but only the first for the baseline
 * unless it is scored on a seeded hold-out (`train.holdout`).
 *
 * @example
 * ```ts ignore
 * seedsOf(study, baselineEntry); // [0] of seeds [0, 1, 2] without a hold-out
 * ```
 */
export function seedsOf(study: Study, method: StudyMethod): readonly number[] {
  const seedless = method.method === BASELINE &&
    methodTrainOptions(study, method).holdout === undefined;
  return seedless ? study.seeds.slice(0, 1) : study.seeds;
}

/**
 * The id of a cell.
 *
 * @example
 * ```ts
 * cellId("deepcrack", "lora", 0); // "deepcrack/lora/seed-0"
 * ```
 */
export function cellId(dataset: string, method: string, seed: number): string {
  return `${dataset}/${method}/seed-${seed}`;
}

/** The folder of `cell` inside the study output folder `outDir`. */
export function cellDir(outDir: string, cell: Pick<StudyCell, "id">): string {
  return `${outDir}/${CELLS_FOLDER}/${cell.id}`;
}
