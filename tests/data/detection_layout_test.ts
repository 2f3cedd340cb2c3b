import {
  deepStrictEqual as assertDeepEquals,
  rejects as assertRejects,
  strictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import {
  classNameKey,
  mapClassesByName,
  remapDetectionSplit,
} from "../../lib/data/detection_classes.ts";
import { detectionLayout, loadDetectionSplit } from "../../lib/data/detection_layout.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;

Deno.test("detectionLayout: coco, fair1m, semantic, unknown", async () => {
  assertEquals(await detectionLayout(`${fixtures}detection`), "coco");
  assertEquals(await detectionLayout(`${fixtures}detection_fair1m/`), "fair1m");
  assertEquals(await detectionLayout(`${fixtures}mess/synthetic`), "semantic");
  assertEquals(await detectionLayout(`${fixtures}sam`), "unknown");
  assertEquals(await detectionLayout(`${fixtures}no_such_folder`), "unknown");
});

Deno.test("loadDetectionSplit: folder, explicit files, wrong layouts", async () => {
  const coco = await loadDetectionSplit({ data: `${fixtures}detection`, split: "val" });
  assertEquals(coco.images.length, 8);
  const explicit = await loadDetectionSplit({
    images: `${fixtures}detection/images/val`,
    annotations: `${fixtures}detection/annotations/instances_val.json`,
  });
  assertEquals(explicit.split, "val");
  assertDeepEquals(explicit.images, coco.images);
  const fair1m = await loadDetectionSplit({ data: `${fixtures}detection_fair1m` });
  assertEquals(fair1m.classNames.length, 37);
  await assertRejects(
    loadDetectionSplit({ data: `${fixtures}mess/synthetic` }),
    /Cannot read detection dataset ".*synthetic": it is a semantic segmentation dataset/,
  );
  await assertRejects(
    loadDetectionSplit({ data: `${fixtures}sam` }),
    /Cannot read detection dataset ".*sam": neither COCO .* nor FAIR-1M/,
  );
});

Deno.test("mapClassesByName: case, spaces, hyphens and underscores do not matter", () => {
  assertEquals(classNameKey("Passenger Ship"), classNameKey("passenger_ship"));
  assertEquals(classNameKey("other-ship"), "othership");
  assertDeepEquals(mapClassesByName(["PassengerShip", "Bus", "Tank"], ["bus", "Passenger Ship"]), [
    1,
    0,
    null,
  ]);
});

Deno.test("remapDetectionSplit: a FAIR-1M split in a run's classes, COCO ids kept by name", async () => {
  const fair1m = await loadDetectionSplit({ data: `${fixtures}detection_fair1m` });
  const run = ["TennisCourt", "SmallCar", "PassengerShip", "Tank"];
  const remapped = remapDetectionSplit(fair1m, run);
  assertDeepEquals(remapped.classNames, run);
  assertDeepEquals(remapped.images[0]!.objects.map((o) => o.classIndex), [1, 2]);
  assertDeepEquals(remapped.images[1]!.objects.map((o) => o.classIndex), [0]);
  // Tennis Court, Small Car and Passenger Ship keep their FAIR-1M ids; Tank gets 38.
  const id = (name: string) => fair1m.categoryIds[fair1m.classNames.indexOf(name)]!;
  assertDeepEquals(remapped.categoryIds, [
    id("Tennis Court"),
    id("Small Car"),
    id("Passenger Ship"),
    38,
  ]);
  assertDeepEquals(
    remapped.categories!.map((c) => [c.name, c.classIndices]),
    [["Airplane", []], ["Ship", [2]], ["Vehicle", [1]], ["Court", [0]], ["Road", []]],
  );
  assertThrows(
    () => remapDetectionSplit(fair1m, ["SmallCar"]),
    /^Error: Cannot score on ".*labelXml": its classes "Passenger Ship", "Tennis Court" are not among the run's classes$/,
  );
});
