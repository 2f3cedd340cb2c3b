/**
 * A study's output folder: `study.json` (the resolved study, so that `status`, `report` and
 * every shard agree on what is being run) beside `cells/`.
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { Study } from "./study_file.ts";

/** The resolved study's file name in the output folder. */
export const STUDY_FILE = "study.json";

/** An output folder that holds another study than the one given. */
export class StudyMismatchError extends Error {
  override name = "StudyMismatchError";
}

/**
 * Makes `outDir` the folder of `study`: writes `study.json` there, or checks that the one there
 * is the same study. A different study is refused unless `force` (which replaces `study.json`;
 * cells whose settings changed are then redone, unchanged finished ones kept).
 *
 * @example
 * ```ts ignore
 * await prepareStudyFolder("out/table-4.4", study, { force: false });
 * ```
 */
export async function prepareStudyFolder(
  outDir: string,
  study: Study,
  options: { force?: boolean } = {},
): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  const path = `${outDir}/${STUDY_FILE}`;
  const text = canonicalJson(study);
  let existing: string | null = null;
  try {
    existing = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (existing !== null) {
    let same = false;
    let otherName = "?";
    try {
      const parsed = JSON.parse(existing);
      otherName = String(parsed?.name);
      same = canonicalJson(parsed) === text;
    } catch {
      // Not JSON: certainly not this study.
    }
    if (same) return;
    if (!options.force) {
      const difference = otherName === study.name
        ? `study "${study.name}" with other settings (${firstDifference(existing, study)})`
        : `another study ("${otherName}")`;
      throw new StudyMismatchError(
        `Output folder "${outDir}" holds ${difference}; use another --out, or --force to run this study there`,
      );
    }
  }
  await writeFileAtomic(path, text);
}

/** Reads the study of an output folder; a one-line error when it holds none. */
export async function readStudyFolder(outDir: string): Promise<Study> {
  const path = `${outDir}/${STUDY_FILE}`;
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Study;
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? `no ${STUDY_FILE} (not a study output folder)`
      : `${STUDY_FILE} is not valid JSON`;
    throw new Error(`Cannot read study folder "${outDir}": ${why}`);
  }
}

/**
 * JSON with object keys sorted, two-space indented: equal studies give equal text whatever order
 * their files listed the keys in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + "\n";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value).sort().map((
        key,
      ) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

function firstDifference(existingText: string, study: Study): string {
  let existing: Record<string, unknown>;
  try {
    existing = JSON.parse(existingText);
  } catch {
    return "unreadable";
  }
  const keys = new Set([...Object.keys(existing), ...Object.keys(study)]);
  for (const key of [...keys].sort()) {
    const a = canonicalJson(existing[key]);
    const b = canonicalJson((study as unknown as Record<string, unknown>)[key]);
    if (a !== b) return `"${key}" differs`;
  }
  return "same keys";
}
