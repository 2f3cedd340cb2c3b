/**
 * Matching class names between a run and a dataset by name, so that a model trained on one layout
 * scores on another: names compare without case, spaces, hyphens or underscores
 * (`PassengerShip`, `Passenger Ship` and `passenger_ship` are one class).
 *
 * @module
 */
import type { DetectionSplit } from "./detection_split.ts";

/**
 * The comparison key of a class name.
 *
 * @example
 * ```ts
 * import { classNameKey } from "./detection_classes.ts";
 * classNameKey("Passenger Ship") === classNameKey("PassengerShip"); // true
 * ```
 */
export function classNameKey(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, "");
}

/**
 * For each of `from`'s classes, the index of the class of the same name in `to`, or `null` when
 * `to` has none.
 *
 * @example
 * ```ts
 * import { mapClassesByName } from "./detection_classes.ts";
 * mapClassesByName(["Small Car", "Bus"], ["bus", "small_car", "van"]); // [1, 0]
 * mapClassesByName(["Tractor"], ["bus"]); // [null]
 * ```
 */
export function mapClassesByName(
  from: readonly string[],
  to: readonly string[],
): (number | null)[] {
  const index = new Map<string, number>();
  to.forEach((name, i) => {
    const key = classNameKey(name);
    if (!index.has(key)) index.set(key, i);
  });
  return from.map((name) => index.get(classNameKey(name)) ?? null);
}

/**
 * A split re-expressed in another class list (a run's), matched by name: objects get the run's
 * class indices, and each run class keeps the split's COCO category id when the split has it (a
 * fresh id above the split's otherwise), so results files still name the split's categories. The
 * split's categories are carried over onto the run's indices. A split class that has objects but
 * no namesake among `classNames` is a one-line error naming the split's file.
 *
 * @example
 * ```ts ignore
 * const scored = remapDetectionSplit(await loadDetectionSplit({ data: "FAIR1M" }), run.classNames);
 * ```
 */
export function remapDetectionSplit(
  split: DetectionSplit,
  classNames: readonly string[],
): DetectionSplit {
  const toRun = mapClassesByName(split.classNames, classNames);
  const used = new Set(split.images.flatMap((im) => im.objects.map((o) => o.classIndex)));
  const missing = split.classNames.filter((_, k) => toRun[k] === null && used.has(k));
  if (missing.length > 0) {
    throw new Error(
      `Cannot score on "${split.source}": its class${missing.length > 1 ? "es" : ""} ` +
        `${missing.map((n) => `"${n}"`).join(", ")} ${missing.length > 1 ? "are" : "is"} ` +
        "not among the run's classes",
    );
  }
  const fromRun = mapClassesByName(classNames, split.classNames);
  let nextId = Math.max(0, ...split.categoryIds) + 1;
  const categoryIds = fromRun.map((k) => k === null ? nextId++ : split.categoryIds[k]!);
  const images = split.images.map((image) => ({
    ...image,
    objects: image.objects.map((o) => ({ ...o, classIndex: toRun[o.classIndex]! })),
  }));
  const remapped: DetectionSplit = { ...split, classNames: [...classNames], categoryIds, images };
  if (split.categories) {
    remapped.categories = split.categories.map((category) => ({
      name: category.name,
      classIndices: category.classIndices.map((k) => toRun[k]).filter((k): k is number =>
        k !== null
      ),
    }));
  }
  return remapped;
}
