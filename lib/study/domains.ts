/**
 * MESS's five domains and which dataset belongs to each (the grouping of the MESS paper and of
 * the thesis's tables), for the rows of `study report`.
 *
 * @module
 */
import { findDatasetByFolder } from "../data/registry.ts";
import type { StudyDataset } from "./study_file.ts";

/** The domains in the order the tables list them; datasets outside MESS come after, as "Other". */
export const MESS_DOMAINS: readonly string[] = [
  "General",
  "Earth Monitoring",
  "Medical Sciences",
  "Engineering",
  "Agriculture and Biology",
];

/** The domain of each MESS dataset, by registry id. */
const DOMAIN_OF: Readonly<Record<string, string>> = {
  bdd100k: "General",
  dark_zurich: "General",
  mhp_v1: "General",
  foodseg103: "General",
  atlantis: "General",
  dram: "General",
  isaid: "Earth Monitoring",
  isprs_potsdam: "Earth Monitoring",
  worldfloods: "Earth Monitoring",
  floodnet: "Earth Monitoring",
  uavid: "Earth Monitoring",
  kvasir_instrument: "Medical Sciences",
  chase_db1: "Medical Sciences",
  cryonuseg: "Medical Sciences",
  paxray: "Medical Sciences",
  corrosion_cs: "Engineering",
  deepcrack: "Engineering",
  pst900: "Engineering",
  zerowaste: "Agriculture and Biology",
  suim: "Agriculture and Biology",
  cub_200: "Agriculture and Biology",
  cwfid: "Agriculture and Biology",
};

/** The row group for datasets that are not MESS's and name no domain. */
export const OTHER_DOMAIN = "Other";

/**
 * The MESS registry id of a study dataset: its `dataset` id, or the MESS dataset its `data` folder
 * is (`.../kvasir-instrument`); `null` for a dataset of one's own.
 *
 * @example
 * ```ts
 * messIdOf({ name: "k", data: "/data/MESS/kvasir-instrument" }); // "kvasir_instrument"
 * ```
 */
export function messIdOf(dataset: StudyDataset): string | null {
  if (dataset.dataset !== undefined) return dataset.dataset;
  const folder = dataset.data?.replace(/\/+$/, "").split("/").at(-1) ?? "";
  return findDatasetByFolder(folder)?.id ?? null;
}

/**
 * The report group of a study dataset: its own `domain`, else its MESS domain, else "Other".
 *
 * @example
 * ```ts
 * domainOf({ name: "deepcrack", dataset: "deepcrack", root: "/MESS" }); // "Engineering"
 * ```
 */
export function domainOf(dataset: StudyDataset): string {
  if (dataset.domain !== undefined) return dataset.domain;
  const id = messIdOf(dataset);
  return (id !== null ? DOMAIN_OF[id] : undefined) ?? OTHER_DOMAIN;
}
