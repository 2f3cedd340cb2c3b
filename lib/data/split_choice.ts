/**
 * Which split a command takes when none is named, one rule for every dataset layout (MESS,
 * a user's semantic dataset, COCO, FAIR-1M):
 *
 * - to evaluate (score, predict, inspect): `test` when the data has it, else its one evaluation
 *   split (a split not named `train*`, such as `val`), else a one-line error listing the splits.
 *   The training split is never taken unless it is named.
 * - to train: `train` when the data has it, else a one-line error listing the splits (training on
 *   an evaluation split, as on a MESS dataset's hold-out, is asked for by naming it).
 *
 * @module
 */

/** What the split is for: scoring and predicting, or training. */
export type SplitPurpose = "evaluate" | "train";

/**
 * Whether a split name is a training split (`train`, `trainval`, `train_extra`, ...): never taken
 * to evaluate unless named.
 *
 * @example
 * ```ts
 * import { isTrainingSplit } from "./split_choice.ts";
 * isTrainingSplit("trainval"); // true
 * isTrainingSplit("val"); // false
 * ```
 */
export function isTrainingSplit(name: string): boolean {
  return /^train/i.test(name);
}

/**
 * The split to take when none is named (see the module notes); `context` starts the error
 * (`Cannot read dataset "DIR"`).
 *
 * @example
 * ```ts
 * import { defaultSplit } from "./split_choice.ts";
 * defaultSplit(["train", "val"], "evaluate", "ds"); // "val"
 * defaultSplit(["test", "train", "val"], "evaluate", "ds"); // "test"
 * defaultSplit(["train", "val"], "train", "ds"); // "train"
 * ```
 */
export function defaultSplit(
  splits: readonly string[],
  purpose: SplitPurpose,
  context: string,
): string {
  const found = `(found: ${splits.join(", ") || "none"})`;
  if (purpose === "train") {
    if (splits.includes("train")) return "train";
    throw new Error(`${context}: no "train" split to train on ${found}; name one with --split`);
  }
  if (splits.includes("test")) return "test";
  const evaluation = splits.filter((name) => !isTrainingSplit(name));
  if (evaluation.length === 1) return evaluation[0]!;
  if (evaluation.length === 0) {
    throw new Error(
      `${context}: no evaluation split, only training data ${found}; ` +
        "name it with --split to score on it",
    );
  }
  throw new Error(`${context}: no "test" split and several others ${found}; name one with --split`);
}

/**
 * The stderr line that names the split a command uses, and why when it was not named.
 *
 * @example
 * ```ts
 * import { describeSplit } from "./split_choice.ts";
 * describeSplit("fixtures/detection", "val", false, "evaluate");
 * // 'mopeft: split "val" of "fixtures/detection" (the data\'s evaluation split: no "test"; name another with --split)'
 * ```
 */
export function describeSplit(
  dataset: string,
  split: string,
  named: boolean,
  purpose: SplitPurpose,
): string {
  const head = `mopeft: split "${split}" of "${dataset}"`;
  if (named) return head;
  const why = purpose === "train"
    ? "the training split"
    : split === "test"
    ? "the test split"
    : `the data's evaluation split: no "test"`;
  return `${head} (${why}; name another with --split)`;
}
