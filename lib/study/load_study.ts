/**
 * Reading a study file and checking everything it names on disk (the checkpoint, every dataset
 * split a cell will read) before any cell runs.
 *
 * @module
 */
import { inferArchitecture, type SamArchitecture } from "../encoder/architecture.ts";
import { resolveDataset } from "../data/resolve.ts";
import { loadSplit } from "../data/split.ts";
import { openSafetensors } from "../io/safetensors.ts";
import { evalSplitOf, trainSplitOf } from "./cell_commands.ts";
import {
  methodTrainOptions,
  parseStudy,
  type Study,
  type StudyDataset,
  StudyFileError,
  type StudyOverrides,
} from "./study_file.ts";

/** A study together with what its inputs told about themselves. */
export interface LoadedStudy {
  study: Study;
  /** The checkpoint's architecture (read from its header only). */
  architecture: SamArchitecture;
  /** Class count of each dataset, by dataset name. */
  classCounts: Map<string, number>;
}

/**
 * Reads, checks and resolves the study file at `path`; see {@link parseStudy} for the format.
 * Every error is one line naming the file (and the entry).
 *
 * @example
 * ```ts ignore
 * const { study } = await loadStudy("studies/thesis-table-4.4.json", { root: "/data/MESS" });
 * ```
 */
export async function loadStudy(
  path: string,
  overrides: StudyOverrides = {},
): Promise<LoadedStudy> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : (error as Error).message;
    throw new StudyFileError(`Cannot read study "${path}": ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StudyFileError(
      `Cannot read study "${path}": not valid JSON (${(error as Error).message})`,
    );
  }
  const study = parseStudy(parsed, path, overrides);
  return { study, ...await checkStudyInputs(study, path) };
}

/**
 * Checks that the checkpoint is a SAM checkpoint and that every dataset split the cells will
 * train and score on lists image/label pairs.
 */
export async function checkStudyInputs(
  study: Study,
  path: string,
): Promise<Omit<LoadedStudy, "study">> {
  let architecture: SamArchitecture;
  try {
    const file = await openSafetensors(study.checkpoint);
    try {
      architecture = inferArchitecture(new Map(file.names.map((n) => [n, file.info(n).shape])));
    } finally {
      file.close();
    }
  } catch (error) {
    throw new StudyFileError(
      `Cannot use study "${path}": checkpoint "${study.checkpoint}": ${
        firstLine((error as Error).message)
      }`,
    );
  }
  const classCounts = new Map<string, number>();
  for (const [index, dataset] of study.datasets.entries()) {
    const splits = new Set<string>();
    for (const method of study.methods) {
      const options = methodTrainOptions(study, method);
      splits.add(trainSplitOf(options, dataset));
      if (options["val-split"] !== undefined) splits.add(options["val-split"] as string);
      if (options.holdout === undefined) splits.add(evalSplitOf(study, dataset));
    }
    for (const split of splits) {
      try {
        const resolved = await resolveDataset(resolveOptions(dataset, split));
        // Images without a label fail here as they would in train, unless the study skips them.
        await loadSplit(resolved, { skipBad: study.train["skip-bad"] === true });
        classCounts.set(dataset.name, resolved.classNames.length);
      } catch (error) {
        throw new StudyFileError(
          `Cannot use study "${path}": datasets[${index}] ("${dataset.name}"), split "${split}": ${
            firstLine((error as Error).message)
          }`,
        );
      }
    }
  }
  return { architecture, classCounts };
}

/** How `resolveDataset` is told where a study dataset lies. */
export function resolveOptions(dataset: StudyDataset, split: string) {
  return dataset.dataset !== undefined
    ? { dataset: dataset.dataset, root: dataset.root, split, variant: dataset.variant }
    : { data: dataset.data, split, variant: dataset.variant };
}

function firstLine(text: string): string {
  return text.split("\n")[0]!;
}
