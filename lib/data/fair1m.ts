/**
 * Reading a FAIR-1M split (`DIR/<split>/images/*.tif`, `DIR/<split>/labelXml/*.xml`) as a
 * {@link DetectionSplit}.
 *
 * Each XML file describes one image: `source/filename`, `size/width|height`, and
 * `objects/object` entries with `possibleresult/name` (one of the 37 classes of
 * `fair1m_classes.ts`) and `points/point` ("x,y"; 5 points for FAIR-1M's quadrilaterals, the last
 * repeating the first). An object's outline is kept as its polygon; its box is the polygon's
 * tight axis-aligned box, its area the polygon's. Image ids are the files' numeric stems when all
 * are numbers, else their 1-based positions in sorted order.
 *
 * @module
 */
import { polygonArea } from "./coco.ts";
import type { DetectionImage, DetectionObject, DetectionSplit } from "./detection_split.ts";
import { FAIR1M_CLASS_CATEGORIES, FAIR1M_CLASS_NAMES } from "./fair1m_classes.ts";
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

/**
 * Reads and checks every XML file of a FAIR-1M split, and that each names an image that is in
 * the split's `images/` folder. Without `split`, the one `purpose` takes (`split_choice.ts`; to
 * evaluate: `test`, else the one evaluation split, never `train`).
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
  purpose: SplitPurpose = "evaluate",
): Promise<DetectionSplit> {
  const splits = await fair1mSplitNames(dir);
  const context = `Cannot read FAIR-1M dataset "${dir}"`;
  if (splits.length === 0) throw new Error(`${context}: no <split>/labelXml folder`);
  const chosen = split ?? defaultSplit(splits, purpose, context);
  if (!splits.includes(chosen)) {
    throw new Error(`${context}: no split "${chosen}" (found: ${splits.join(", ")})`);
  }
  const labelDir = `${dir}/${chosen}/labelXml`;
  const imagesDir = `${dir}/${chosen}/images`;
  const xmlFiles: string[] = [];
  for await (const entry of Deno.readDir(labelDir)) {
    if (entry.isFile && entry.name.toLowerCase().endsWith(".xml")) xmlFiles.push(entry.name);
  }
  xmlFiles.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  if (xmlFiles.length === 0) throw new Error(`${context}: no XML files in "${labelDir}"`);
  const present = new Set<string>();
  try {
    for await (const entry of Deno.readDir(imagesDir)) present.add(entry.name);
  } catch {
    throw new Error(`${context}: no images folder "${imagesDir}"`);
  }
  const stems = xmlFiles.map((name) => name.replace(/\.xml$/i, ""));
  const numeric = stems.every((s) => /^\d+$/.test(s)) &&
    new Set(stems.map(Number)).size === stems.length;
  const images: DetectionImage[] = [];
  for (const [i, name] of xmlFiles.entries()) {
    const path = `${labelDir}/${name}`;
    const parsed = parseFair1mXml(await Deno.readTextFile(path), path);
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
  return {
    format: "fair1m",
    source: labelDir,
    split: chosen,
    classNames: FAIR1M_CLASS_NAMES,
    categoryIds: FAIR1M_CLASS_NAMES.map((_, k) => k + 1),
    categories: FAIR1M_CLASS_CATEGORIES,
    images,
  };
}

/**
 * Parses one FAIR-1M XML annotation; `source` names the file in errors.
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
export function parseFair1mXml(text: string, source: string): {
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
  const classIndex = new Map(FAIR1M_CLASS_NAMES.map((name, k) => [name, k]));
  const objects = elements(root!, "object").map((object, i): DetectionObject => {
    const result = elements(object, "possibleresult")[0];
    const name = result === undefined ? null : textOf(result, "name");
    if (name === null) return fail(`object ${i + 1} has no <possibleresult><name>`);
    const k = classIndex.get(name);
    if (k === undefined) return fail(`object ${i + 1} has class "${name}", not a FAIR-1M class`);
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
