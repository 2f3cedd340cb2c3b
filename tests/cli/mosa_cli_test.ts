/**
 * MoSA from the command line: its options, what `peft.json` records, what `peft.safetensors`
 * stores (one plain adapter), what `summary` counts, and bad values.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { assertOneLineError, runCli, runCliJson } from "../_cli.ts";

const data = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "mopeft_mosa_cli_" });
const checkpoint = `${work}/sam_tiny.safetensors`;
await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 7));

const json = runCliJson;

Deno.test("train --method mosa records its rules and stores one plain adapter per block", async () => {
  const out = `${work}/mosa`;
  await json([
    "train",
    "--checkpoint",
    checkpoint,
    "--data",
    data,
    "--quiet",
    "--out",
    out,
    "--steps",
    "2",
    "--batch-size",
    "2",
    "--method",
    "mosa",
    "--adapter-dim",
    "8",
    "--mosa-parts",
    "2",
    "--mosa-share",
    "none",
    "--mosa-consistency",
    "0.5",
  ]);
  const manifest = JSON.parse(await Deno.readTextFile(`${out}/peft.json`));
  assertEquals(manifest.mosa, {
    rules: "experts-drawn-per-step-merged-by-mean",
    experts: 2,
    share: "none",
    split: ["down", "up"],
    consistency: 0.5,
  });
  assertEquals(
    [manifest.config.mosaParts, manifest.config.mosaShare, manifest.config.mosaConsistency],
    [2, "none", 0.5],
  );
  const stored = await readSafetensors(`${out}/peft.safetensors`);
  const adapterNames = [...stored.keys()].filter((name) => name.includes(".adapter.")).sort();
  assertEquals(
    adapterNames,
    Array.from(
      { length: TINY_SIZE.depth },
      (_, block) =>
        ["down.bias", "down.weight", "up.bias", "up.weight"].map((local) =>
          `encoder.blocks.${block}.adapter.${local}`
        ),
    ).flat().sort(),
  );
  assertEquals(stored.get("encoder.blocks.0.adapter.up.weight")!.shape, [TINY_SIZE.embedDim, 8]);
  const scores = await json([
    "eval",
    "--checkpoint",
    checkpoint,
    "--data",
    data,
    "--quiet",
    "--peft",
    out,
    "--split",
    "test",
  ]);
  ok(typeof scores.miou === "number");
});

Deno.test("summary reports MoSA's stored adapter and the copies training holds", async () => {
  const args = ["summary", "--checkpoint", checkpoint, "--adapter-dim", "8"];
  const adapter = await json([...args, "--method", "adapter"]);
  const mosa = await json([...args, "--method", "mosa", "--mosa-parts", "3"]);
  const byGroup = mosa.byGroup as Record<string, number>;
  assertEquals(byGroup.adapter, (adapter.byGroup as Record<string, number>).adapter);
  // share down: 4 blocks x 3 copies of up ([32, 8] + [32]).
  assertEquals(byGroup.mosaExperts, 4 * 3 * (32 * 8 + 32));
  assertEquals(mosa.trainingParams, (adapter.trainingParams as number) + 4 * 2 * (32 * 8 + 32));
});

Deno.test("bad MoSA options are one-line usage errors", async () => {
  const args = ["summary", "--checkpoint", checkpoint, "--method", "mosa"];
  assertOneLineError(await runCli([...args, "--mosa-share", "sideways"]), 2, /mosa-share/);
  assertOneLineError(await runCli([...args, "--mosa-consistency", "-1"]), 2, /mosa-consistency/);
  assertOneLineError(
    await runCli([...args, "--mosa-parts", "300"]),
    2,
    /mosaParts must be at most 255/,
  );
});
