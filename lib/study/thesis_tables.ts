/**
 * The MoPEFT thesis's result tables (Sahay, "A Mixture-of-Experts Approach to Fine-Tuning the
 * Segment Anything Model", RIT, 2024; SAM ViT-B on MESS), as data, for `study report --compare`.
 * Copied as printed, typos included (Table 4.8 labels UAVid with FloodNet's reference, "Postdam").
 * Each column says which study methods it compares with: a method, and settings its entry must
 * resolve to (defaults included). Rows name MESS registry ids.
 *
 * Note: the rank 16 column of Table 4.6, L = 20 of Table 4.7 and D_mid = 256 of Table 4.8 repeat
 * Table 4.4's MoPEFT column, so the main MoPEFT results appear to use rank 16, prefix length 20
 * and bottleneck 256 rather than the stated defaults (rank 8, bottleneck 64).
 *
 * @module
 */
import type { StudyMethodName } from "./study_file.ts";

/** Which study methods a thesis column stands for. */
export interface ThesisMatch {
  method: StudyMethodName;
  /** PEFT settings the entry must resolve to (`loraRank`, `prefixLength`, `adapterDim`). */
  settings?: Readonly<Partial<Record<"loraRank" | "prefixLength" | "adapterDim", number>>>;
}

/** One column of a thesis table. */
export interface ThesisColumn {
  label: string;
  match: ThesisMatch;
}

/** One dataset row of a thesis table (mIoU %, one value per column). */
export interface ThesisRow {
  /** MESS registry id. */
  dataset: string;
  /** As the thesis prints it. */
  label: string;
  values: readonly number[];
}

/** A thesis table of mIoU per dataset and method. */
export interface ThesisResultTable {
  id: string;
  title: string;
  columns: readonly ThesisColumn[];
  rows: readonly ThesisRow[];
}

/** One row of Table 4.5 (percent of full fine-tuning; `null` where the thesis prints "-"). */
export interface ThesisEfficiencyRow {
  label: string;
  match: ThesisMatch;
  params: number | null;
  train: number;
  inference: number;
}

/** Tables 4.3, 4.4, 4.6, 4.7 and 4.8, by `--compare` name. */
export const THESIS_RESULT_TABLES: Readonly<Record<string, ThesisResultTable>> = {
  "thesis-4.3": {
    id: "thesis-4.3",
    title: "Table 4.3: Baseline (vanilla SAM), decoder fine-tuning, MoPEFT (mIoU %)",
    columns: [
      { label: "Baseline", match: { method: "baseline" } },
      { label: "decoderFT", match: { method: "decoder" } },
      { label: "MoPEFTs", match: { method: "mopeft" } },
    ],
    rows: [
      { dataset: "bdd100k", label: "BDD100K [53]", values: [41.58, 42.84, 50.93] },
      { dataset: "dark_zurich", label: "Dark Zurich [39]", values: [20.91, 23.42, 31.19] },
      { dataset: "mhp_v1", label: "MHPv1 [27]", values: [29.38, 31.4, 41.84] },
      { dataset: "foodseg103", label: "FoodSeg103 [49]", values: [10.48, 14.93, 22.99] },
      { dataset: "atlantis", label: "ATLANTIS [30]", values: [17.33, 20.62, 30.03] },
      { dataset: "dram", label: "DRAM [19]", values: [57.38, 58.83, 67.25] },
      { dataset: "isaid", label: "iSAID [47]", values: [62.59, 63.14, 68.29] },
      { dataset: "isprs_potsdam", label: "ISPRS Postdam [10]", values: [29.73, 29.92, 40.42] },
      { dataset: "worldfloods", label: "WorldFloods [24]", values: [46.45, 48.75, 63.17] },
      { dataset: "floodnet", label: "FloodNet [35]", values: [39.72, 40.94, 50.01] },
      { dataset: "uavid", label: "UAVid [22]", values: [60.19, 60.96, 71.12] },
      { dataset: "kvasir_instrument", label: "Kvasir-Instr. [11]", values: [46.82, 48.32, 71.92] },
      { dataset: "chase_db1", label: "CHASE DB1 [40]", values: [23.56, 25.95, 42.49] },
      { dataset: "cryonuseg", label: "CryoNuSeg [23]", values: [38.06, 40.36, 59.88] },
      { dataset: "paxray", label: "PAXRay-4 [41]", values: [41.07, 43.73, 59.42] },
      { dataset: "corrosion_cs", label: "CorrosionCS [6]", values: [20.88, 21.93, 35.61] },
      { dataset: "deepcrack", label: "DeepCrack [20]", values: [59.02, 62.27, 72.59] },
      { dataset: "pst900", label: "PST900 [43]", values: [21.39, 21.89, 29.46] },
      { dataset: "zerowaste", label: "ZeroWaste-f [5]", values: [0.43, 1.12, 2.99] },
      { dataset: "suim", label: "SUIM [9]", values: [14.13, 15.42, 19.07] },
      { dataset: "cub_200", label: "CUB-200 [45]", values: [38.41, 40.29, 48.46] },
      { dataset: "cwfid", label: "CEFID [51]", values: [16.74, 19.62, 24.71] },
    ],
  },
  "thesis-4.4": {
    id: "thesis-4.4",
    title: "Table 4.4: single PEFT methods against MoPEFT (mIoU %)",
    columns: [
      { label: "LoRA", match: { method: "lora" } },
      { label: "VPT Deep", match: { method: "prefix" } },
      { label: "VPT", match: { method: "vpt" } },
      { label: "Adapter", match: { method: "adapter" } },
      { label: "MoPEFTs", match: { method: "mopeft" } },
    ],
    rows: [
      { dataset: "bdd100k", label: "BDD100K [53]", values: [49.39, 46.24, 43.18, 47.03, 50.93] },
      {
        dataset: "dark_zurich",
        label: "Dark Zurich [39]",
        values: [30.82, 27.16, 24.49, 26.72, 31.19],
      },
      { dataset: "mhp_v1", label: "MHPv1 [27]", values: [39.21, 35.59, 32.72, 36.17, 41.84] },
      {
        dataset: "foodseg103",
        label: "FoodSeg103 [49]",
        values: [22.45, 19.91, 16.02, 20.05, 22.99],
      },
      { dataset: "atlantis", label: "ATLANTIS [30]", values: [28.03, 27.61, 24.91, 27.91, 30.03] },
      { dataset: "dram", label: "DRAM [19]", values: [64.48, 60.23, 58.89, 63.79, 67.25] },
      { dataset: "isaid", label: "iSAID [47]", values: [66.29, 65.61, 64.71, 64.82, 68.29] },
      {
        dataset: "isprs_potsdam",
        label: "ISPRS Postdam [10]",
        values: [38.25, 33.52, 31.42, 35.77, 40.42],
      },
      {
        dataset: "worldfloods",
        label: "WorldFloods [24]",
        values: [59.53, 56.13, 52.29, 54.23, 63.17],
      },
      { dataset: "floodnet", label: "FloodNet [35]", values: [46.79, 43.97, 42.81, 41.09, 50.01] },
      { dataset: "uavid", label: "UAVid [22]", values: [69.43, 65.39, 61.19, 63.59, 71.12] },
      {
        dataset: "kvasir_instrument",
        label: "Kvasir-Instr. [11]",
        values: [66.97, 58.31, 52.23, 62.06, 71.92],
      },
      {
        dataset: "chase_db1",
        label: "CHASE DB1 [40]",
        values: [37.22, 32.48, 28.39, 30.85, 42.49],
      },
      {
        dataset: "cryonuseg",
        label: "CryoNuSeg [23]",
        values: [54.93, 48.12, 44.81, 36.22, 59.88],
      },
      { dataset: "paxray", label: "PAXRay-4 [41]", values: [56.05, 52.83, 46.62, 51.35, 59.42] },
      {
        dataset: "corrosion_cs",
        label: "CorrosionCS [6]",
        values: [30.68, 26.14, 24.94, 27.07, 35.61],
      },
      {
        dataset: "deepcrack",
        label: "DeepCrack [20]",
        values: [69.83, 66.02, 63.81, 65.82, 72.59],
      },
      { dataset: "pst900", label: "PST900 [43]", values: [27.12, 25.29, 22.93, 26.01, 29.46] },
      { dataset: "zerowaste", label: "ZeroWaste-f [5]", values: [2.53, 3.83, 2.36, 1.43, 2.99] },
      { dataset: "suim", label: "SUIM [9]", values: [16.79, 16.62, 13.48, 16.58, 19.07] },
      { dataset: "cub_200", label: "CUB-200 [45]", values: [47.35, 45.28, 42.56, 44.79, 48.46] },
      { dataset: "cwfid", label: "CEFID [51]", values: [23.94, 22.51, 21.19, 23.85, 24.71] },
    ],
  },
  "thesis-4.6": {
    id: "thesis-4.6",
    title: "Table 4.6: MoPEFT with LoRA rank 4 / 8 / 16 (mIoU %)",
    columns: [
      { label: "rank = 4", match: { method: "mopeft", settings: { loraRank: 4 } } },
      { label: "rank = 8", match: { method: "mopeft", settings: { loraRank: 8 } } },
      { label: "rank = 16", match: { method: "mopeft", settings: { loraRank: 16 } } },
      { label: "Baseline", match: { method: "baseline" } },
    ],
    rows: [
      { dataset: "isaid", label: "iSAID [47]", values: [59.89, 64.91, 68.29, 62.59] },
      {
        dataset: "isprs_potsdam",
        label: "ISPRS Postdam [10]",
        values: [31.92, 38.27, 40.42, 29.73],
      },
      { dataset: "worldfloods", label: "WorldFloods [24]", values: [56.24, 60.19, 63.17, 46.45] },
      { dataset: "floodnet", label: "FloodNet [35]", values: [39.57, 42.22, 50.01, 39.72] },
      { dataset: "uavid", label: "UAVid [22]", values: [62.03, 68.94, 71.15, 60.19] },
      {
        dataset: "kvasir_instrument",
        label: "Kvasir-Instrument [11]",
        values: [60.72, 67.43, 71.92, 46.82],
      },
      { dataset: "chase_db1", label: "CHASE DB1 [40]", values: [36.61, 40.05, 42.49, 23.56] },
      { dataset: "cryonuseg", label: "CryoNuSeg [23]", values: [51.09, 54.39, 59.88, 38.06] },
      { dataset: "paxray", label: "PAXRay-4 [41]", values: [48.11, 52.83, 59.42, 41.07] },
    ],
  },
  "thesis-4.7": {
    id: "thesis-4.7",
    title: "Table 4.7: MoPEFT with prefix length 5 / 10 / 20 / 25 (mIoU %)",
    columns: [
      { label: "L=5", match: { method: "mopeft", settings: { prefixLength: 5 } } },
      { label: "L=10", match: { method: "mopeft", settings: { prefixLength: 10 } } },
      { label: "L=20", match: { method: "mopeft", settings: { prefixLength: 20 } } },
      { label: "L=25", match: { method: "mopeft", settings: { prefixLength: 25 } } },
      { label: "Baseline", match: { method: "baseline" } },
    ],
    rows: [
      { dataset: "isaid", label: "iSAID [47]", values: [62.14, 63.14, 68.29, 64.18, 62.59] },
      {
        dataset: "isprs_potsdam",
        label: "ISPRS Postdam [10]",
        values: [28.92, 29.92, 40.42, 37.94, 29.73],
      },
      {
        dataset: "worldfloods",
        label: "WorldFloods [24]",
        values: [46.75, 48.75, 63.17, 64.02, 46.45],
      },
      { dataset: "floodnet", label: "FloodNet [35]", values: [39.94, 40.94, 50.01, 51.22, 39.72] },
      { dataset: "uavid", label: "UAVid [22]", values: [58.12, 60.96, 71.1, 68.72, 60.19] },
      {
        dataset: "kvasir_instrument",
        label: "Kvasir-Instrument [11]",
        values: [43.35, 48.32, 71.92, 70.04, 46.82],
      },
      { dataset: "chase_db1", label: "CHASE DB1 [40]", values: [25.2, 25.95, 42.49, 43.11, 23.56] },
      {
        dataset: "cryonuseg",
        label: "CryoNuSeg [23]",
        values: [39.21, 40.36, 59.88, 52.93, 38.06],
      },
      { dataset: "paxray", label: "PAXRay-4 [41]", values: [40.43, 41.07, 59.42, 58.32, 41.07] },
    ],
  },
  "thesis-4.8": {
    id: "thesis-4.8",
    title: "Table 4.8: MoPEFT with adapter bottleneck 48 / 64 / 128 / 256 (mIoU %)",
    columns: [
      { label: "D_mid = 48", match: { method: "mopeft", settings: { adapterDim: 48 } } },
      { label: "D_mid = 64", match: { method: "mopeft", settings: { adapterDim: 64 } } },
      { label: "D_mid = 128", match: { method: "mopeft", settings: { adapterDim: 128 } } },
      { label: "D_mid = 256", match: { method: "mopeft", settings: { adapterDim: 256 } } },
      { label: "Baseline", match: { method: "baseline" } },
    ],
    rows: [
      { dataset: "isaid", label: "iSAID [47]", values: [59.02, 64.82, 65.03, 68.29, 62.59] },
      {
        dataset: "isprs_potsdam",
        label: "ISPRS Postdam [10]",
        values: [19.23, 35.77, 36.24, 40.42, 29.73],
      },
      {
        dataset: "worldfloods",
        label: "WorldFloods [24]",
        values: [13.01, 54.23, 57.29, 63.17, 46.45],
      },
      { dataset: "floodnet", label: "FloodNet [35]", values: [21.39, 41.09, 44.68, 50.02, 39.72] },
      { dataset: "uavid", label: "UAVid [35]", values: [10.43, 63.59, 69.82, 71.12, 60.19] },
      {
        dataset: "kvasir_instrument",
        label: "Kvasir-Instrument [11]",
        values: [38.41, 62.06, 67.31, 71.92, 46.82],
      },
      {
        dataset: "chase_db1",
        label: "CHASE DB1 [40]",
        values: [16.74, 30.85, 34.69, 42.49, 23.56],
      },
      { dataset: "cryonuseg", label: "CryoNuSeg [23]", values: [32.21, 36.22, 44.2, 59.88, 38.06] },
    ],
  },
};

/** Table 4.5: trainable parameters, training and inference time relative to full fine-tuning. */
export const THESIS_EFFICIENCY = {
  id: "thesis-4.5",
  title:
    "Table 4.5: trainable parameters, training and inference time relative to full fine-tuning (FloodNet)",
  rows: [
    {
      label: "Full fine-tuning",
      match: { method: "full" },
      params: 100,
      train: 100,
      inference: 100,
    },
    {
      label: "Decoder fine-tuning",
      match: { method: "decoder" },
      params: null,
      train: 38,
      inference: 100,
    },
    { label: "LoRA", match: { method: "lora" }, params: 0.24, train: 55, inference: 104 },
    {
      label: "Prompt Tuning (VPT)",
      match: { method: "vpt" },
      params: 0.08,
      train: 49,
      inference: 109,
    },
    {
      label: "Prefix Tuning (VPT-Deep)",
      match: { method: "prefix" },
      params: 0.17,
      train: 54,
      inference: 114,
    },
    { label: "Adapter", match: { method: "adapter" }, params: 0.83, train: 55, inference: 108 },
    { label: "MoPEFT", match: { method: "mopeft" }, params: 1.47, train: 63, inference: 124 },
  ] as readonly ThesisEfficiencyRow[],
} as const;

/** Every `--compare` name. */
export const THESIS_TABLE_IDS: readonly string[] = [
  "thesis-4.3",
  "thesis-4.4",
  "thesis-4.5",
  "thesis-4.6",
  "thesis-4.7",
  "thesis-4.8",
];
