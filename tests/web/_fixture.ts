/**
 * Tiny runs for the web tests: a small SAM-shaped checkpoint (and a second one, for "a run made
 * on another checkpoint"), a gated mixture trained two steps on the semantic fixtures, and a
 * detection run on the COCO-layout fixtures.
 *
 * @module
 */
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";
import { runCliJson } from "../_cli.ts";

/** The fixtures' folders. */
export const SEMANTIC_DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
export const DETECTION_DATA = new URL("../../fixtures/detection", import.meta.url).pathname;

/** A test image of the semantic fixtures. */
export function semanticImage(name: string): string {
  const split = name.startsWith("train") ? "train" : "test";
  return `${SEMANTIC_DATA}/images_detectron2/${split}/${name}`;
}

/** The files a web test builds on. */
export interface WebFixture {
  work: string;
  checkpoint: string;
  /** A checkpoint of the same architecture with other weights. */
  otherCheckpoint: string;
  /** A gated (mopeft) semantic run on `checkpoint`. */
  semanticRun: string;
  /** The same method trained on `otherCheckpoint`. */
  otherRun: string;
}

/** Writes the checkpoints and trains the semantic runs (a few seconds). */
export async function makeFixture(prefix: string): Promise<WebFixture> {
  const work = await Deno.makeTempDir({ prefix });
  const checkpoint = `${work}/sam_tiny.safetensors`;
  const otherCheckpoint = `${work}/sam_other.safetensors`;
  await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));
  await writeSafetensors(otherCheckpoint, randomSamTensors(architectureOf(TINY_SIZE), 8));
  const train = (base: string, out: string) =>
    runCliJson([
      "train",
      "--checkpoint",
      base,
      "--data",
      SEMANTIC_DATA,
      "--method",
      "mopeft",
      "--steps",
      "2",
      "--batch-size",
      "2",
      "--seed",
      "1",
      "--out",
      out,
      "--quiet",
    ]);
  await train(checkpoint, `${work}/run`);
  await train(otherCheckpoint, `${work}/other_run`);
  return {
    work,
    checkpoint,
    otherCheckpoint,
    semanticRun: `${work}/run`,
    otherRun: `${work}/other_run`,
  };
}

/** Trains a detection run on `checkpoint` (two steps, six queries) into `out`. */
export async function trainDetectionRun(checkpoint: string, out: string): Promise<void> {
  await runCliJson([
    "train",
    "--checkpoint",
    checkpoint,
    "--data",
    DETECTION_DATA,
    "--method",
    "lora",
    "--steps",
    "2",
    "--batch-size",
    "2",
    "--queries",
    "6",
    "--seed",
    "3",
    "--out",
    out,
    "--quiet",
  ]);
}

/** Runs a command of `checkpoint` and `run` with `args` (`web --out DIR`, `predict --image ...`). */
export function runOnRun(
  command: "web" | "predict",
  checkpoint: string,
  run: string,
  args: string[],
): Promise<Record<string, unknown>> {
  return runCliJson([command, "--checkpoint", checkpoint, "--peft", run, ...args, "--quiet"]);
}
