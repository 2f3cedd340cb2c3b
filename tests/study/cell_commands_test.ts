import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { cellCommands, shellLine } from "../../lib/study/cell_commands.ts";
import { studyCells } from "../../lib/study/cells.ts";
import { parseStudy } from "../../lib/study/study_file.ts";

const study = parseStudy(
  {
    name: "s",
    checkpoint: "/c/sam.safetensors",
    root: "/MESS",
    datasets: ["deepcrack", { name: "mine", data: "/d/mine" }],
    train: { holdout: 0.2, epochs: 20, "batch-size": 4, "skip-bad": true },
    methods: ["baseline", { name: "mopeft-r4", method: "mopeft", "lora-rank": 4, epochs: 5 }],
    seeds: [0, 1],
  },
  "/s/study.json",
);

Deno.test("cells come dataset-major, then method, then seed", () => {
  assertEquals(studyCells(study).map((c) => c.id), [
    "deepcrack/baseline/seed-0",
    "deepcrack/baseline/seed-1",
    "deepcrack/mopeft-r4/seed-0",
    "deepcrack/mopeft-r4/seed-1",
    "mine/baseline/seed-0",
    "mine/baseline/seed-1",
    "mine/mopeft-r4/seed-0",
    "mine/mopeft-r4/seed-1",
  ]);
});

Deno.test("a cell's command lines: override, MESS split, hold-out scoring, gates", () => {
  const cell = studyCells(study)[3]!;
  const commands = cellCommands(study, cell, "/o/cells/deepcrack/mopeft-r4/seed-1");
  const data = ["--checkpoint", "/c/sam.safetensors", "--dataset", "deepcrack", "--root", "/MESS"];
  assertEquals(commands.train, [
    "train",
    ...data,
    "--method",
    "mopeft",
    "--seed",
    "1",
    "--out",
    "/o/cells/deepcrack/mopeft-r4/seed-1/run",
    "--holdout",
    "0.2",
    "--epochs",
    "5",
    "--batch-size",
    "4",
    "--skip-bad",
    "--lora-rank",
    "4",
    // DeepCrack's own (only) split, as MESS prepares it.
    "--split",
    "test",
  ]);
  assertEquals(commands.resume, [...commands.train, "--resume"]);
  // Scored on the held-out part of the same split, with the training seed.
  assertEquals(commands.eval, [
    "eval",
    ...data,
    "--peft",
    "/o/cells/deepcrack/mopeft-r4/seed-1/run",
    "--seed",
    "1",
    "--split",
    "test",
    "--holdout",
    "0.2",
  ]);
  assertEquals(commands.gates?.slice(-6), [
    "--svg",
    "/o/cells/deepcrack/mopeft-r4/seed-1/gates.svg",
    "--split",
    "test",
    "--holdout",
    "0.2",
  ]);
});

Deno.test("the baseline trains decoder for zero steps, and has no gates", () => {
  const cell = studyCells(study)[4]!;
  const commands = cellCommands(study, cell, "/o/x");
  assertEquals(commands.train, [
    "train",
    "--checkpoint",
    "/c/sam.safetensors",
    "--data",
    "/d/mine",
    "--method",
    "decoder",
    "--seed",
    "0",
    "--out",
    "/o/x/run",
    "--steps",
    "0",
    "--holdout",
    "0.2",
    "--batch-size",
    "4",
    "--skip-bad",
    "--split",
    "train",
  ]);
  assertEquals(commands.gates, undefined);
});

Deno.test("shell lines quote what the shell would split", () => {
  assertEquals(shellLine(["a", "b c", "it's", "--x=1"]), `a 'b c' 'it'\\''s' --x=1`);
});
