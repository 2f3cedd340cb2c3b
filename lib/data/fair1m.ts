/**
 * Reading a FAIR-1M split (`DIR/<split>/images/*.tif`, `DIR/<split>/labelXml/*.xml`) as a
 * {@link DetectionSplit}.
 *
 * Each XML file describes one image: `source/filename`, `size/width|height`, and
 * `objects/object` entries with `possibleresult/name` (a class: FAIR-1M's 37 of
 * `fair1m_classes.ts`, or a data set's own, see {@link readFair1mSplit}) and `points/point` ("x,y"; 5 points for FAIR-1M's quadrilaterals, the last
 * repeating the first). An object's outline is kept as its polygon; its box is the polygon's
 * tight axis-aligned box, its area the polygon's. Image ids are the files' numeric stems when all
 * are numbers, else their 1-based positions in sorted order.
 *
 * @module
 */
import { polygonArea } from "./coco.ts";
import { classNameKey } from "./detection_classes.ts";
import type {
  ClassCategory,
  DetectionImage,
  DetectionObject,
  DetectionSplit,
} from "./detection_split.ts";
import { FAIR1M_CLASS_CATEGORIES, FAIR1M_CLASS_NAMES, fair1mClassName } from "./fair1m_classes.ts";
import { defaultSplit, type SplitPurpose } from "./split_choice.ts";

/**
 * Split names of a FAIR-1M-layout folder (sub-folders holding `labelXml/`), sorted.
 *
 * @example
 * ```ts ignore
 * await fair1mSplitNames("fixtures/detection_fair1m"); // ["val"]
 * ```
 */
export async function fair1mSplitNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isDirectory) continue;
      try {
        if ((await Deno.stat(`${dir}/${entry.name}/labelXml`)).isDirectory) names.push(entry.name);
      } catch {
        // Not a split folder.
      }
    }
  } catch {
    return [];
  }
  return names.sort();
}

/** Options of {@link readFair1mSplit}. */
export interface Fair1mSplitOptions {
  /** What an unnamed split is for (default `evaluate`). */
  purpose?: SplitPurpose;
  /** The classes, in this order (`--classes a,b,c`); default: from the data (module notes). */
  classes?: readonly string[];
}

/**
 * Reads and checks every XML file of a FAIR-1M split, and that each names an image that is in
 * the split's `images/` folder. Without `split`, the one `purpose` takes (`split_choice.ts`; to
 * evaluate: `test`, else the one evaluation split, never `train`).
 *
 * The classes are taken as COCO takes them from its file: `classes` when given, else the names
 * of the training split (`train`, or the split read when there is none), sorted. When every name
 * is one of FAIR-1M's 37 (spaces, hyphens, underscores and case aside), the classes are FAIR-1M's
 * registry (all 37 in Table A.1's order, given `classes` in their order) with its 5 categories;
 * otherwise they are the data's own, without categories. `classesNote` says which. An object
 * whose class the classes lack is a one-line error naming its file.
 *
 * @example
 * ```ts ignore
 * const split = await readFair1mSplit("fixtures/detection_fair1m", "val");
 * split.classNames.length; // 37
 * ```
 */
export async function readFair1mSplit(
  dir: string,
  split?: string,
  options: Fair1mSplitOptions = {},
): Promise<DetectionSplit> {
  const splits = await fair1mSplitNames(dir);
  const context = `Cannot read FAIR-1M dataset "${dir}"`;
  if (splits.length === 0) throw new Error(`${context}: no <split>/labelXml folder`);
  const chosen = split ?? defaultSplit(splits, options.purpose ?? "evaluate", context);
  if (!splits.includes(chosen)) {
    throw new Error(`${context}: no split "${chosen}" (found: ${splits.join(", ")})`);
  }
  const labelDir = `${dir}/${chosen}/labelXml`;
  const imagesDir = `${dir}/${chosen}/images`;
  const xmlFiles = await listXmlFiles(labelDir);
  if (xmlFiles.length === 0) throw new Error(`${context}: no XML files in "${labelDir}"`);
  const present = new Set<string>();
  try {
    for await (const entry of Deno.readDir(imagesDir)) present.add(entry.name);
  } catch {
    throw new Error(`${context}: no images folder "${imagesDir}"`);
  }
  const texts = await Promise.all(xmlFiles.map((name) => Deno.readTextFile(`${labelDir}/${name}`)));
  const classSource = chosen !== "train" && splits.includes("train")
    ? `${dir}/train/labelXml`
    : labelDir;
  const classes = options.classes
    ? fair1mClasses(options.classes, "--classes", true)
    : fair1mClasses(
      classSource === labelDir ? namesIn(texts) : await namesOfFolder(classSource),
      `"${classSource}"`,
      false,
    );
  const stems = xmlFiles.map((name) => name.replace(/\.xml$/i, ""));
  const numeric = stems.every((s) => /^\d+$/.test(s)) &&
    new Set(stems.map(Number)).size === stems.length;
  const images: DetectionImage[] = [];
  for (const [i, name] of xmlFiles.entries()) {
    const path = `${labelDir}/${name}`;
    const parsed = parseFair1mXml(texts[i]!, path, classes);
    const file = parsed.filename ?? `${stems[i]}.tif`;
    if (!present.has(file)) {
      throw new Error(
        `Cannot read FAIR-1M label "${path}": its image "${file}" is not in "${imagesDir}"`,
      );
    }
    images.push({
      id: numeric ? Number(stems[i]) : i + 1,
      file: `${imagesDir}/${file}`,
      width: parsed.width,
      height: parsed.height,
      objects: parsed.objects,
    });
  }
  images.sort((a, b) => a.id - b.id);
  const result: DetectionSplit = {
    format: "fair1m",
    source: labelDir,
    split: chosen,
    classNames: classes.names,
    categoryIds: classes.names.map((_, k) => k + 1),
    images,
    classesNote: classes.note,
  };
  if (classes.categories) result.categories = classes.categories;
  return result;
}

/** The classes of a FAIR-1M-layout split, and where they come from. */
export interface Fair1mClasses {
  names: readonly string[];
  /** FAIR-1M's categories over `names`, when they are the registry's. */
  categories?: readonly ClassCategory[];
  /** Names (as in the data, or their registry spelling) -> class index, by {@link classNameKey}. */
  indexOfKey: ReadonlyMap<string, number>;
  /** What an object's class is checked against, for errors: `the classes of "DIR"`. */
  what: string;
  /** One line saying which classes these are and why. */
  note: string;
}

/**
 * The classes that `names` (a training split's object names, or `--classes` when `given`) make:
 * FAIR-1M's registry when every name is one of its 37 (so too without names), else the names themselves (sorted unless
 * given), those differing only in spaces, hyphens, underscores or case made one.
 *
 * @example
 * ```ts
 * import { fair1mClasses } from "./fair1m.ts";
 * fair1mClasses(["Small Car", "other airplane"], "data", false).names.length; // 37
 * fair1mClasses(["tank", "Truck", "tank"], "data", false).names; // ["Truck", "tank"]
 * ```
 */
export function fair1mClasses(
  names: readonly string[],
  from: string,
  given: boolean,
): Fair1mClasses {
  const what = given ? "the --classes list" : `the classes of ${from}`;
  if (given && names.length === 0) throw new Error(`Cannot take classes from ${from}: none given`);
  const keys = new Map<string, string>();
  for (const name of given ? names : [...names].sort()) {
    const key = classNameKey(name);
    if (key.length === 0) throw new Error(`Cannot take classes from ${from}: an empty class name`);
    if (given && keys.has(key)) {
      throw new Error(`Cannot take classes from --classes: "${name}" repeats "${keys.get(key)}"`);
    }
    if (!keys.has(key)) keys.set(key, name);
  }
  const distinct = [...keys.values()];
  const registry = distinct.every((name) => fair1mClassName(name) !== undefined);
  let result: Omit<Fair1mClasses, "indexOfKey" | "what">;
  if (registry) {
    const classNames = given ? distinct.map((name) => fair1mClassName(name)!) : FAIR1M_CLASS_NAMES;
    const index = new Map(classNames.map((name, k) => [name, k]));
    const categories = FAIR1M_CLASS_CATEGORIES.map((category) => ({
      name: category.name,
      classIndices: category.classIndices.map((k) => index.get(FAIR1M_CLASS_NAMES[k]!))
        .filter((k): k is number => k !== undefined).sort((a, b) => a - b),
    })).filter((category) => category.classIndices.length > 0);
    result = {
      names: classNames,
      categories,
      note: given
        ? `mopeft: classes: --classes, ${classNames.length} of FAIR-1M's 37, in its categories`
        : `mopeft: classes: FAIR-1M's 37 in its 5 categories (every name in ${from} is one of them)`,
    };
  } else {
    const shown = distinct.length > 12
      ? `${distinct.slice(0, 12).join(", ")}, ...`
      : distinct.join(", ");
    result = {
      names: distinct,
      note: given
        ? `mopeft: classes: --classes, ${distinct.length} (not all FAIR-1M's: no categories): ${shown}`
        : `mopeft: classes: the ${distinct.length} names in ${from}, sorted (not all FAIR-1M's: ` +
          `no categories): ${shown}`,
    };
  }
  const indexOfKey = new Map(result.names.map((name, k) => [classNameKey(name), k]));
  return { ...result, indexOfKey, what };
}

async function listXmlFiles(labelDir: string): Promise<string[]> {
  const xmlFiles: string[] = [];
  for await (const entry of Deno.readDir(labelDir)) {
    if (entry.isFile && entry.name.toLowerCase().endsWith(".xml")) xmlFiles.push(entry.name);
  }
  return xmlFiles.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** The object class names of the XML files of a labelXml folder. */
async function namesOfFolder(labelDir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const name of await listXmlFiles(labelDir)) {
    for (const found of namesIn([await Deno.readTextFile(`${labelDir}/${name}`)])) {
      names.add(found);
    }
  }
  return [...names];
}

/** The distinct `possibleresult/name`s of XML texts (objects without one are left to the parser). */
function namesIn(texts: readonly string[]): string[] {
  const names = new Set<string>();
  for (const text of texts) {
    for (const object of elements(text, "object")) {
      const result = elements(object, "possibleresult")[0];
      const name = result === undefined ? null : textOf(result, "name");
      if (name !== null && name.length > 0) names.add(name);
    }
  }
  return [...names];
}

/**
 * Parses one FAIR-1M XML annotation; `source` names the file in errors. Object classes are looked
 * up in `classes` (default: FAIR-1M's 37) by {@link classNameKey}.
 *
 * @example
 * ```ts
 * import { parseFair1mXml } from "./fair1m.ts";
 * const label = parseFair1mXml(
 *   "<annotation><source><filename>1.tif</filename></source>" +
 *     "<size><width>100</width><height>80</height></size><objects><object>" +
 *     "<possibleresult><name>Small Car</name></possibleresult><points>" +
 *     "<point>10,10</point><point>30,10</point><point>30,20</point><point>10,20</point>" +
 *     "<point>10,10</point></points></object></objects></annotation>",
 *   "1.xml",
 * );
 * label.objects[0]!.bbox; // [10, 10, 20, 10]
 * ```
 */
export function parseFair1mXml(
  text: string,
  source: string,
  classes: Fair1mClasses = FAIR1M_REGISTRY_CLASSES,
): {
  filename: string | null;
  width: number;
  height: number;
  objects: DetectionObject[];
} {
  const fail: (problem: string) => never = (problem) => {
    throw new Error(`Cannot read FAIR-1M label "${source}": ${problem}`);
  };
  const root = elements(text, "annotation")[0];
  if (root === undefined) fail("not a FAIR-1M annotation (no <annotation> element)");
  const size = elements(root!, "size")[0];
  if (size === undefined) fail("not a FAIR-1M annotation (no <size> element)");
  const width = Number(textOf(size!, "width"));
  const height = Number(textOf(size!, "height"));
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    fail("<size> has no positive integer <width> and <height>");
  }
  const sourceElement = elements(root!, "source")[0];
  const filename = sourceElement === undefined ? null : textOf(sourceElement, "filename");
  const objects = elements(root!, "object").map((object, i): DetectionObject => {
    const result = elements(object, "possibleresult")[0];
    const name = result === undefined ? null : textOf(result, "name");
    if (name === null) return fail(`object ${i + 1} has no <possibleresult><name>`);
    const k = classes.indexOfKey.get(classNameKey(name));
    if (k === undefined) {
      return fail(`object ${i + 1} has class "${name}", which ${classes.what} do not have`);
    }
    const points = elements(elements(object, "points")[0] ?? "", "point").map((point) => {
      const xy = decodeEntities(point).split(",").map((v) => Number(v.trim()));
      if (xy.length !== 2 || !xy.every(Number.isFinite)) {
        fail(`object ${i + 1} has a point "${point.trim()}" that is not "x,y"`);
      }
      return xy as [number, number];
    });
    const last = points[points.length - 1];
    if (points.length > 1 && last![0] === points[0]![0] && last![1] === points[0]![1]) points.pop();
    if (points.length < 3) fail(`object ${i + 1} has ${points.length} distinct points, at least 3`);
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs);
    const y0 = Math.min(...ys);
    const polygon = points.flat();
    return {
      classIndex: k,
      bbox: [x0, y0, Math.max(...xs) - x0, Math.max(...ys) - y0],
      area: polygonArea(polygon),
      iscrowd: false,
      difficult: false,
      polygons: [polygon],
    };
  });
  return { filename, width, height, objects };
}

/** Inner texts of the `<tag>` elements in `xml` (no nesting of the same tag, as in FAIR-1M). */
/** FAIR-1M's 37 classes as {@link parseFair1mXml} looks them up. */
const FAIR1M_REGISTRY_CLASSES: Fair1mClasses = fair1mClasses(FAIR1M_CLASS_NAMES, "FAIR-1M", false);

function elements(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}\\s*>`, "g");
  return [...xml.matchAll(pattern)].map((match) => match[1]!);
}

function textOf(xml: string, tag: string): string | null {
  const inner = elements(xml, tag)[0];
  return inner === undefined ? null : decodeEntities(inner).trim();
}

function decodeEntities(text: string): string {
  return text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, name: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[name]!,
  );
}
