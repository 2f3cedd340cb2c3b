import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { findDataset, findDatasetByFolder, MESS_DATASETS } from "../../lib/data/registry.ts";

// Folder and class count per dataset, from shared/MESS.md.
const EXPECTED: Record<string, [string, number]> = {
  bdd100k: ["bdd100k", 19],
  dark_zurich: ["Dark_Zurich", 20],
  mhp_v1: ["LV-MHP-v1", 19],
  foodseg103: ["FoodSeg103", 104],
  atlantis: ["atlantis", 56],
  dram: ["DRAM_processed", 12],
  isaid: ["isaid", 16],
  isprs_potsdam: ["ISPRS_Potsdam", 6],
  worldfloods: ["WorldFloods", 3],
  floodnet: ["FloodNet-Supervised_v1.0", 10],
  uavid: ["uavid_v1.5", 8],
  kvasir_instrument: ["kvasir-instrument", 2],
  chase_db1: ["CHASEDB1", 2],
  cryonuseg: ["CryoNuSeg", 2],
  paxray: ["paxray_dataset", 2],
  corrosion_cs: ["Corrosion Condition State Classification", 4],
  deepcrack: ["DeepCrack", 2],
  pst900: ["PST900_RGBT_Dataset", 5],
  zerowaste: ["zerowaste-f", 5],
  suim: ["SUIM", 8],
  cub_200: ["CUB_200_2011", 201],
  cwfid: ["cwfid", 3],
};

Deno.test("MESS_DATASETS holds the 22 MESS datasets with MESS's folders and class counts", () => {
  assertEquals(MESS_DATASETS.length, 22);
  const actual = Object.fromEntries(
    MESS_DATASETS.map((spec) => [spec.id, [spec.folder, spec.classNames.length]]),
  );
  assertEquals(actual, EXPECTED);
});

Deno.test("MESS_DATASETS: alternative class lists match, classes of interest are classes", () => {
  for (const spec of MESS_DATASETS) {
    for (const other of Object.values(spec.otherClassNames)) {
      assertEquals(other.length, spec.classNames.length, spec.id);
    }
    assert(spec.classesOfInterest.every((c) => c >= 0 && c < spec.classNames.length), spec.id);
    assert(Object.keys(spec.splits).length > 0, spec.id);
  }
});

Deno.test("MESS_DATASETS carries the layouts of MESS.md (suffixes, variants)", () => {
  assertEquals(findDataset("dark_zurich")!.splits.val!.imageSuffix, "_rgb_anon.png");
  assertEquals(findDataset("dark_zurich")!.splits.val!.labelSuffix, "_gt_labelIds.png");
  assertEquals(findDataset("cwfid")!.splits.test!.labelSuffix, "annotation.png");
  assertEquals(findDataset("paxray")!.variants.map((v) => v.name), [
    "lungs",
    "mediastinum",
    "bones",
    "diaphragm",
  ]);
  assertEquals(findDataset("isprs_potsdam")!.variants.map((v) => v.images), [
    "images_detectron2/test/irrg",
    "images_detectron2/test/rgb",
  ]);
  assertEquals(findDataset("pst900")!.variants.map((v) => v.name), [
    "thermal",
    "rgb",
    "thermal_pseudo",
  ]);
  assertEquals(findDataset("kvasir_instrument")!.classNames, ["others", "tool"]);
  assertEquals(findDatasetByFolder("kvasir-instrument")!.id, "kvasir_instrument");
  assertEquals(findDatasetByFolder("nope"), undefined);
});
