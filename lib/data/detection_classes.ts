/**
 * Matching class names between a run and a dataset by name, so that a model trained on one layout
 * scores on another: names compare without case, spaces, hyphens or underscores
 * (`PassengerShip`, `Passenger Ship` and `passenger_ship` are one class).
 *
 * @module
 */

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
