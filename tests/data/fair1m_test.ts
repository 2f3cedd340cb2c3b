import {
  deepStrictEqual as assertDeepEquals,
  rejects as assertRejects,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { fair1mClasses, parseFair1mXml, readFair1mSplit } from "../../lib/data/fair1m.ts";
import { FAIR1M_CLASS_CATEGORIES, FAIR1M_CLASS_NAMES } from "../../lib/data/fair1m_classes.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import { writeFair1mSplit } from "./_fair1m.ts";

const fixture = new URL("../../fixtures/detection_fair1m", import.meta.url).pathname;

Deno.test("FAIR-1M registry: 37 classes in 5 categories", () => {
  assertEquals(FAIR1M_CLASS_NAMES.length, 37);
  assertEquals(new Set(FAIR1M_CLASS_NAMES).size, 37);
  assertDeepEquals(
    FAIR1M_CLASS_CATEGORIES.map((c) => [c.name, c.classIndices.length]),
    [["Airplane", 11], ["Ship", 9], ["Vehicle", 10], ["Court", 4], ["Road", 3]],
  );
  assertEquals(FAIR1M_CLASS_NAMES[FAIR1M_CLASS_CATEGORIES[4]!.classIndices[2]!], "Bridge");
});

Deno.test("readFair1mSplit: the sample's XML files, polygons, tight boxes, .tif images", async () => {
  const split = await readFair1mSplit(fixture);
  assertEquals(split.split, "val");
  assertEquals(split.format, "fair1m");
  assertDeepEquals(split.images.map((im) => [im.id, im.width, im.height]), [[1, 64, 48], [
    2,
    80,
    80,
  ]]);
  const [car, ship] = split.images[0]!.objects;
  assertEquals(FAIR1M_CLASS_NAMES[car!.classIndex], "Small Car");
  assertEquals(FAIR1M_CLASS_NAMES[ship!.classIndex], "Passenger Ship");
  // Points (10,8) (30,12) (28,22) (8,18), the repeated fifth dropped.
  assertDeepEquals(car!.polygons, [[10, 8, 30, 12, 28, 22, 8, 18]]);
  assertDeepEquals(car!.bbox, [8, 8, 22, 14]);
  // Shoelace: (10*12-30*8) + (30*22-28*12) + (28*18-8*22) + (8*8-10*18) = -120+324+328-116 = 416.
  assertEquals(car!.area, 208);
  assertEquals(split.categoryIds[car!.classIndex], car!.classIndex + 1);
  const image = await decodeRgb(split.images[1]!.file);
  assertDeepEquals([image.width, image.height, image.channels], [80, 80, 3]);
  // The court's centre pixel is painted grey (200, 200, 200) on the green-grey background.
  const centre = (40 * 80 + 37) * 3;
  assertDeepEquals([...image.data.subarray(centre, centre + 3)], [200, 200, 200]);
  await assertRejects(readFair1mSplit(fixture, "train"), /no split "train" \(found: val\)/);
});

Deno.test("parseFair1mXml: files that are not FAIR-1M are one line naming the file", () => {
  const size = "<size><width>10</width><height>10</height></size>";
  const object = (name: string, points: string) =>
    `<annotation>${size}<objects><object><possibleresult><name>${name}</name></possibleresult>` +
    `<points>${points}</points></object></objects></annotation>`;
  const cases: [string, RegExp][] = [
    [
      "not xml at all",
      /^Error: Cannot read FAIR-1M label "a\.xml": not a FAIR-1M annotation \(no <annotation> element\)$/,
    ],
    ["<annotation><object/></annotation>", /not a FAIR-1M annotation \(no <size> element\)/],
    [
      "<annotation><size><width>x</width><height>10</height></size></annotation>",
      /<size> has no positive integer <width> and <height>/,
    ],
    [
      object("Spaceship", "<point>1,1</point><point>2,1</point><point>2,2</point>"),
      /object 1 has class "Spaceship", which the classes of FAIR-1M do not have/,
    ],
    [
      object("Bus", "<point>1,1</point><point>2,1</point><point>1,1</point>"),
      /object 1 has 2 distinct points, at least 3/,
    ],
    [
      object("Bus", "<point>1;1</point><point>2,1</point><point>2,2</point>"),
      /object 1 has a point "1;1" that is not "x,y"/,
    ],
    [
      `<annotation>${size}<objects><object><name>Bus</name><bndbox/></object></objects></annotation>`,
      /object 1 has no <possibleresult><name>/,
    ],
  ];
  for (const [text, pattern] of cases) {
    assertThrows(() => parseFair1mXml(text, "a.xml"), pattern);
  }
  const label = parseFair1mXml(
    object("Bus", "<point>1,1</point><point>4,1</point><point>4,3</point>"),
    "a.xml",
  );
  assertEquals(label.filename, null);
  assertDeepEquals(label.objects[0]!.bbox, [1, 1, 3, 2]);
});

Deno.test("readFair1mSplit: an XML naming a missing image", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/val/images`, { recursive: true });
    await Deno.mkdir(`${dir}/val/labelXml`);
    await Deno.writeTextFile(
      `${dir}/val/labelXml/7.xml`,
      "<annotation><source><filename>7.tif</filename></source>" +
        "<size><width>10</width><height>10</height></size><objects></objects></annotation>",
    );
    await assertRejects(
      readFair1mSplit(dir),
      new RegExp(
        `Cannot read FAIR-1M label "${dir}/val/labelXml/7\\.xml": its image "7\\.tif" is not in`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readFair1mSplit: own classes, the training split's names sorted, or --classes' order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_fair1m_own_" });
  try {
    await writeFair1mSplit(dir, "train", ["tank", "Truck", "boat", "tank", "Boat"]);
    await writeFair1mSplit(dir, "val", ["boat", "tank", "TANK"]);
    const val = await readFair1mSplit(dir);
    assertEquals(val.split, "val");
    // Names differing only in case are one class; sorted as code points (upper case first).
    assertDeepEquals(val.classNames, ["Boat", "Truck", "tank"]);
    assertDeepEquals(val.categoryIds, [1, 2, 3]);
    assertEquals(val.categories, undefined);
    assertDeepEquals(val.images.map((im) => im.objects[0]!.classIndex), [0, 2, 2]);
    assertEquals(
      val.classesNote,
      `mopeft: classes: the 3 names in "${dir}/train/labelXml", sorted (not all FAIR-1M's: ` +
        "no categories): Boat, Truck, tank",
    );
    const given = await readFair1mSplit(dir, "val", { classes: ["tank", "boat", "truck"] });
    assertDeepEquals(given.classNames, ["tank", "boat", "truck"]);
    assertDeepEquals(given.images.map((im) => im.objects[0]!.classIndex), [1, 0, 0]);
    assertEquals(given.classesNote!.startsWith("mopeft: classes: --classes, 3 (not all"), true);
    // A class the evaluation split has and the classes lack: one line naming the file.
    await writeFair1mSplit(dir, "val", ["boat", "tank", "submarine"]);
    await assertRejects(readFair1mSplit(dir), {
      message: `Cannot read FAIR-1M label "${dir}/val/labelXml/3.xml": object 1 has class ` +
        `"submarine", which the classes of "${dir}/train/labelXml" do not have`,
    });
    await assertRejects(readFair1mSplit(dir, "val", { classes: ["boat", "tank"] }), {
      message: `Cannot read FAIR-1M label "${dir}/val/labelXml/3.xml": object 1 has class ` +
        `"submarine", which the --classes list do not have`,
    });
    assertThrows(
      () => fair1mClasses(["boat", "Boat"], "--classes", true),
      /^Error: Cannot take classes from --classes: "Boat" repeats "boat"$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readFair1mSplit: FAIR-1M's registry and categories when every name is one of its 37", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_fair1m_registry_" });
  try {
    // Spaces, hyphens and case differ from the registry's spelling.
    await writeFair1mSplit(dir, "train", ["other airplane", "small-car", "Boeing737"]);
    await writeFair1mSplit(dir, "val", ["Other-Airplane", "Bus"]);
    const val = await readFair1mSplit(dir);
    assertDeepEquals(val.classNames, FAIR1M_CLASS_NAMES);
    assertDeepEquals(val.categories, FAIR1M_CLASS_CATEGORIES);
    assertDeepEquals(val.images.map((im) => FAIR1M_CLASS_NAMES[im.objects[0]!.classIndex]), [
      "other-airplane",
      "Bus",
    ]);
    assertEquals(
      val.classesNote,
      `mopeft: classes: FAIR-1M's 37 in its 5 categories (every name in "${dir}/train/labelXml" ` +
        "is one of them)",
    );
    // Given, in their order with the registry's spelling, grouped in FAIR-1M's categories.
    const given = await readFair1mSplit(dir, "val", {
      classes: ["bus", "Small Car", "other airplane"],
    });
    assertDeepEquals(given.classNames, ["Bus", "Small Car", "other-airplane"]);
    assertDeepEquals(given.categories, [
      { name: "Airplane", classIndices: [2] },
      { name: "Vehicle", classIndices: [0, 1] },
    ]);
    assertDeepEquals(given.images.map((im) => im.objects[0]!.classIndex), [2, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
