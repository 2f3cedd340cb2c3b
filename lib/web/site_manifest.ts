/**
 * `site.json`: what a web folder holds, written by `mopeft web` and read by the page.
 *
 * @module
 */

/** The file's name inside the folder. */
export const SITE_FILE = "site.json";

/** The content of `site.json` (paths relative to the folder). */
export interface SiteManifest {
  format: "mopeft-web";
  version: 1;
  /** The run's name in messages (its folder's name). */
  run: string;
  /** The base checkpoint: its copy in the folder, and its original file name (for messages). */
  checkpoint: { file: string; name: string };
  /** The run's `peft.json` and `peft.safetensors`. */
  manifest: string;
  weights: string;
  /** Bytes the page fetches for the weights (checkpoint, manifest, PEFT weights). */
  downloadBytes: number;
}
