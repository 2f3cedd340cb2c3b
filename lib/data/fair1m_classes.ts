/**
 * FAIR-1M's 37 classes, spelled as its XML files spell them, and their 5 categories (the grouping
 * of the thesis's Table A.1), in Table A.1's order with each category's `other-*` class last.
 *
 * @module
 */
import { classNameKey } from "./detection_classes.ts";
import type { ClassCategory } from "./detection_split.ts";

/** Category name -> its classes. */
export const FAIR1M_CATEGORIES: readonly { name: string; classes: readonly string[] }[] = [
  {
    name: "Airplane",
    classes: [
      "Boeing737",
      "Boeing747",
      "Boeing777",
      "Boeing787",
      "C919",
      "A220",
      "A321",
      "A330",
      "A350",
      "ARJ21",
      "other-airplane",
    ],
  },
  {
    name: "Ship",
    classes: [
      "Passenger Ship",
      "Motorboat",
      "Fishing Boat",
      "Tugboat",
      "Engineering Ship",
      "Liquid Cargo Ship",
      "Dry Cargo Ship",
      "Warship",
      "other-ship",
    ],
  },
  {
    name: "Vehicle",
    classes: [
      "Small Car",
      "Bus",
      "Cargo Truck",
      "Dump Truck",
      "Van",
      "Trailer",
      "Tractor",
      "Excavator",
      "Truck Tractor",
      "other-vehicle",
    ],
  },
  {
    name: "Court",
    classes: ["Basketball Court", "Tennis Court", "Football Field", "Baseball Field"],
  },
  { name: "Road", classes: ["Intersection", "Roundabout", "Bridge"] },
];

/** The 37 class names, category by category. */
export const FAIR1M_CLASS_NAMES: readonly string[] = FAIR1M_CATEGORIES.flatMap((c) => c.classes);

/** The categories as class-index groups over {@link FAIR1M_CLASS_NAMES}. */
export const FAIR1M_CLASS_CATEGORIES: readonly ClassCategory[] = (() => {
  let next = 0;
  return FAIR1M_CATEGORIES.map((category) => ({
    name: category.name,
    classIndices: category.classes.map(() => next++),
  }));
})();

const REGISTRY_BY_KEY = new Map(FAIR1M_CLASS_NAMES.map((name) => [classNameKey(name), name]));

/**
 * The registry's spelling of a FAIR-1M class named with other spaces, hyphens, underscores or
 * case (`other airplane`, `SmallCar`), or `undefined` when it is none of the 37.
 *
 * @example
 * ```ts
 * import { fair1mClassName } from "./fair1m_classes.ts";
 * fair1mClassName("other airplane"); // "other-airplane"
 * fair1mClassName("Tank"); // undefined
 * ```
 */
export function fair1mClassName(name: string): string | undefined {
  return REGISTRY_BY_KEY.get(classNameKey(name));
}
