/**
 * The 22 datasets of the MESS benchmark: where each one lies under the MESS root after MESS's
 * preparation scripts, how its images and labels are named, and its class names.
 *
 * Adding a dataset means adding one entry to {@link MESS_DATASETS}; nothing else lists them.
 *
 * @module
 */
import { MESS_CLASS_NAMES } from "./mess_classes.ts";

/** Where one split's files lie, relative to the dataset folder. */
export interface SplitLayout {
  /** Folder holding the images. */
  images: string;
  /** Folder holding the label PNGs (class index per pixel, 255 = ignore). */
  labels: string;
  /** What image file names end with; stripping it leaves the stem that pairs with a label. */
  imageSuffix: string;
  /** What label file names end with. */
  labelSuffix: string;
}

/**
 * An alternative form of a dataset that MESS registers separately: other images (Potsdam's IRRG
 * or RGB, PST900's thermal or RGB), or another label set (PAXRay's four body regions).
 */
export interface DatasetVariant {
  name: string;
  /** Replaces the split's images folder. */
  images?: string;
  /** Replaces the split's labels folder. */
  labels?: string;
  /** Replaces the dataset's class names (key of `MESS_CLASS_NAMES`). */
  classKey?: string;
}

/** One MESS dataset. */
export interface DatasetSpec {
  /** Identifier used on the command line, e.g. `kvasir_instrument`. */
  id: string;
  /** Name as the MESS paper writes it, e.g. `Kvasir-Instrument`. */
  name: string;
  /** Folder under the MESS root, e.g. `kvasir-instrument`. */
  folder: string;
  /** Splits MESS prepares, by name; the first one is the default. */
  splits: Readonly<Record<string, SplitLayout>>;
  /** Class names (index = label value) that MESS evaluates with. */
  classNames: readonly string[];
  /** Alternative class-name lists MESS also registers, e.g. `official`. */
  otherClassNames: Readonly<Record<string, readonly string[]>>;
  /** Variants; the first one is the default. Empty when the dataset has none. */
  variants: readonly DatasetVariant[];
  /** Class indices MESS averages for its "classes of interest" scores. */
  classesOfInterest: readonly number[];
}

function names(key: string): readonly string[] {
  const list = MESS_CLASS_NAMES[key];
  if (!list) throw new Error(`Missing MESS class names "${key}"`);
  return list;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** The standard layout of a MESS-prepared dataset: `images_detectron2/<split>` etc. */
function detectron2Split(split: string, imageSuffix: string): SplitLayout {
  return {
    images: `images_detectron2/${split}`,
    labels: `annotations_detectron2/${split}`,
    imageSuffix,
    labelSuffix: ".png",
  };
}

interface EntryInput {
  id: string;
  name: string;
  folder: string;
  splits: Record<string, SplitLayout>;
  classKey?: string;
  other?: string[];
  variants?: DatasetVariant[];
  /** A function of the class count, as MESS writes it (`range(1, n)` and the like). */
  classesOfInterest: (count: number) => number[];
}

function entry(input: EntryInput): DatasetSpec {
  const classNames = names(input.classKey ?? input.id);
  const otherClassNames: Record<string, readonly string[]> = {};
  for (const other of input.other ?? []) otherClassNames[other] = names(`${input.id}_${other}`);
  return {
    id: input.id,
    name: input.name,
    folder: input.folder,
    splits: input.splits,
    classNames,
    otherClassNames,
    variants: input.variants ?? [],
    classesOfInterest: input.classesOfInterest(classNames.length),
  };
}

const allClasses = (n: number) => range(0, n);
const allButFirst = (n: number) => range(1, n);
const secondClass = () => [1];

/**
 * Every MESS dataset, in the order of MESS's table (general, earth monitoring, medical,
 * engineering, agriculture and biology).
 *
 * @example
 * ```ts
 * import { MESS_DATASETS } from "./registry.ts";
 * console.log(MESS_DATASETS.length); // 22
 * ```
 */
export const MESS_DATASETS: readonly DatasetSpec[] = [
  entry({
    id: "bdd100k",
    name: "BDD100K",
    folder: "bdd100k",
    splits: {
      val: {
        images: "images/10k/val",
        labels: "annotations_detectron2/val",
        imageSuffix: ".jpg",
        labelSuffix: ".png",
      },
    },
    classesOfInterest: allClasses,
  }),
  entry({
    id: "dark_zurich",
    name: "Dark Zurich",
    folder: "Dark_Zurich",
    splits: {
      val: {
        images: "rgb_anon/val/night/GOPR0356",
        labels: "annotations_detectron2/val",
        imageSuffix: "_rgb_anon.png",
        labelSuffix: "_gt_labelIds.png",
      },
    },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "mhp_v1",
    name: "MHP v1",
    folder: "LV-MHP-v1",
    splits: {
      train: detectron2Split("train", ".jpg"),
      val: detectron2Split("val", ".jpg"),
      test: detectron2Split("test", ".jpg"),
    },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "foodseg103",
    name: "FoodSeg103",
    folder: "FoodSeg103",
    splits: {
      test: {
        images: "Images/img_dir/test",
        labels: "Images/ann_dir/test",
        imageSuffix: ".jpg",
        labelSuffix: ".png",
      },
    },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "atlantis",
    name: "ATLANTIS",
    folder: "atlantis",
    splits: { test: detectron2Split("test", ".jpg") },
    classesOfInterest: allClasses,
  }),
  entry({
    id: "dram",
    name: "DRAM",
    folder: "DRAM_processed",
    splits: { test: detectron2Split("test", ".jpg") },
    classesOfInterest: () => range(0, 11),
  }),
  entry({
    id: "isaid",
    name: "iSAID",
    folder: "isaid",
    splits: { val: detectron2Split("val", ".png") },
    other: ["official"],
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "isprs_potsdam",
    name: "ISPRS Potsdam",
    folder: "ISPRS_Potsdam",
    splits: { test: detectron2Split("test", ".png") },
    other: ["official"],
    variants: [
      { name: "irrg", images: "images_detectron2/test/irrg" },
      { name: "rgb", images: "images_detectron2/test/rgb" },
    ],
    classesOfInterest: (n) => range(0, n - 1),
  }),
  entry({
    id: "worldfloods",
    name: "WorldFloods",
    folder: "WorldFloods",
    splits: { test: detectron2Split("test", ".png") },
    other: ["official"],
    variants: [
      { name: "irrg", images: "images_detectron2/test/irrg" },
      { name: "rgb", images: "images_detectron2/test/rgb" },
    ],
    classesOfInterest: secondClass,
  }),
  entry({
    id: "floodnet",
    name: "FloodNet",
    folder: "FloodNet-Supervised_v1.0",
    splits: { test: detectron2Split("test", ".jpg") },
    classesOfInterest: () => [1, 3],
  }),
  entry({
    id: "uavid",
    name: "UAVid",
    folder: "uavid_v1.5",
    splits: { val: detectron2Split("val", ".png") },
    other: ["official"],
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "kvasir_instrument",
    name: "Kvasir-Instrument",
    folder: "kvasir-instrument",
    splits: { test: detectron2Split("test", ".png") },
    other: ["official"],
    classesOfInterest: secondClass,
  }),
  entry({
    id: "chase_db1",
    name: "CHASE DB1",
    folder: "CHASEDB1",
    splits: { test: detectron2Split("test", ".jpg") },
    classesOfInterest: secondClass,
  }),
  entry({
    id: "cryonuseg",
    name: "CryoNuSeg",
    folder: "CryoNuSeg",
    splits: {
      test: {
        images: "images_detectron2",
        labels: "annotations_detectron2",
        imageSuffix: ".png",
        labelSuffix: ".png",
      },
    },
    classesOfInterest: secondClass,
  }),
  entry({
    id: "paxray",
    name: "PAXRay-4",
    folder: "paxray_dataset",
    splits: { test: detectron2Split("test", ".png") },
    classKey: "paxray_lungs",
    variants: ["lungs", "mediastinum", "bones", "diaphragm"].map((part) => ({
      name: part,
      labels: `annotations_detectron2/test/${part}`,
      classKey: `paxray_${part}`,
    })),
    classesOfInterest: secondClass,
  }),
  entry({
    id: "corrosion_cs",
    name: "CorrosionCS",
    folder: "Corrosion Condition State Classification",
    splits: {
      test: {
        images: "original/Test/images",
        labels: "original/Test/masks",
        imageSuffix: ".jpeg",
        labelSuffix: ".png",
      },
    },
    other: ["official"],
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "deepcrack",
    name: "DeepCrack",
    folder: "DeepCrack",
    splits: {
      test: {
        images: "test_img",
        labels: "annotations_detectron2/test",
        imageSuffix: ".jpg",
        labelSuffix: ".png",
      },
    },
    other: ["adapted"],
    classesOfInterest: secondClass,
  }),
  entry({
    id: "pst900",
    name: "PST900",
    folder: "PST900_RGBT_Dataset",
    splits: {
      test: {
        images: "test/thermal",
        labels: "test/labels",
        imageSuffix: ".png",
        labelSuffix: ".png",
      },
    },
    other: ["official"],
    variants: [
      { name: "thermal", images: "test/thermal" },
      { name: "rgb", images: "test/rgb" },
      { name: "thermal_pseudo", images: "test/thermal_pseudo" },
    ],
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "zerowaste",
    name: "ZeroWaste-f",
    folder: "zerowaste-f",
    splits: {
      test: {
        images: "splits_final_deblurred/test/data",
        labels: "splits_final_deblurred/test/sem_seg",
        imageSuffix: ".PNG",
        labelSuffix: ".PNG",
      },
    },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "suim",
    name: "SUIM",
    folder: "SUIM",
    splits: {
      test: {
        images: "TEST/images",
        labels: "annotations_detectron2/test",
        imageSuffix: ".jpg",
        labelSuffix: ".png",
      },
    },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "cub_200",
    name: "CUB-200",
    folder: "CUB_200_2011",
    splits: { test: detectron2Split("test", ".jpg") },
    classesOfInterest: allButFirst,
  }),
  entry({
    id: "cwfid",
    name: "CWFID",
    folder: "cwfid",
    splits: {
      test: {
        images: "images",
        labels: "annotations_detectron2/test",
        imageSuffix: "image.png",
        labelSuffix: "annotation.png",
      },
    },
    other: ["official"],
    classesOfInterest: allButFirst,
  }),
];

/**
 * Looks a dataset up by id; `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { findDataset } from "./registry.ts";
 * findDataset("cwfid")?.folder; // "cwfid"
 * ```
 */
export function findDataset(id: string): DatasetSpec | undefined {
  return MESS_DATASETS.find((spec) => spec.id === id);
}

/**
 * Looks a dataset up by its folder name under the MESS root; `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { findDatasetByFolder } from "./registry.ts";
 * findDatasetByFolder("kvasir-instrument")?.id; // "kvasir_instrument"
 * ```
 */
export function findDatasetByFolder(folder: string): DatasetSpec | undefined {
  return MESS_DATASETS.find((spec) => spec.folder === folder);
}
