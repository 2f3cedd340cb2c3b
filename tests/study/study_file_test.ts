import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parseStudy, peftConfigOf } from "../../lib/study/study_file.ts";
import { loadStudy } from "../../lib/study/load_study.ts";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { writeSafetensors } from "../../lib/io/safetensors.ts";

const minimal = {
  name: "s",
  checkpoint: "sam.safetensors",
  datasets: [{ name: "mine", data: "data/mine" }],
  methods: ["baseline", "lora"],
};

Deno.test("parseStudy resolves paths against the study file and fills the defaults", () => {
  const study = parseStudy(
    {
      ...minimal,
      root: "../MESS",
      datasets: ["deepcrack", { name: "mine", data: "data/mine", domain: "Mine" }],
      train: { holdout: 0.2, epochs: 3 },
      methods: ["baseline", { name: "mopeft-r16", method: "mopeft", "lora-rank": 16 }],
    },
    "/a/b/study.json",
  );
  assertEquals(study.checkpoint, "/a/b/sam.safetensors");
  assertEquals(study.datasets, [
    { name: "deepcrack", dataset: "deepcrack", root: "/a/MESS" },
    { name: "mine", data: "/a/b/data/mine", domain: "Mine" },
  ]);
  assertEquals(study.methods[1], {
    name: "mopeft-r16",
    method: "mopeft",
    train: { "lora-rank": 16 },
  });
  assertEquals(study.seeds, [0]);
  assertEquals(study.train, { holdout: 0.2, epochs: 3 });
  // Command-line overrides resolve against the working directory.
  const overridden = parseStudy(minimal, "/a/b/study.json", { checkpoint: "/x/sam.safetensors" });
  assertEquals(overridden.checkpoint, "/x/sam.safetensors");
});

Deno.test("parseStudy names the entry and what is wrong with it", () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /expected a JSON object/],
    [{ ...minimal, extra: 1 }, /unknown key "extra"/],
    [{ ...minimal, name: "a b" }, /"name" must be a name/],
    [{ ...minimal, checkpoint: undefined }, /"checkpoint" must name a SAM checkpoint/],
    [{ ...minimal, datasets: [] }, /"datasets" must be a non-empty array/],
    [
      { ...minimal, datasets: ["deepcrack"] },
      /datasets\[0\]: MESS dataset "deepcrack" needs "root"/,
    ],
    [{ ...minimal, root: "/m", datasets: ["crack"] }, /datasets\[0\]: unknown dataset id "crack"/],
    [{ ...minimal, datasets: [{ data: "x" }] }, /datasets\[0\]: a "data" entry needs a "name"/],
    [
      { ...minimal, datasets: [{ name: "x", data: "x", size: 3 }] },
      /datasets\[0\]: unknown key "size"/,
    ],
    [
      { ...minimal, datasets: [{ name: "x", data: "a" }, { name: "x", data: "b" }] },
      /datasets: "x" appears twice/,
    ],
    [{ ...minimal, methods: ["lora", "lora"] }, /methods: "lora" appears twice/],
    [{ ...minimal, methods: ["sparse"] }, /methods\[0\]: unknown method "sparse"/],
    [{ ...minimal, methods: [{ name: "m" }] }, /methods\[0\]: needs "method"/],
    [
      { ...minimal, methods: [{ method: "lora", "lora-rank": 0 }] },
      /methods\[0\] \("lora"\): "lora-rank" expected a positive integer, got 0/,
    ],
    [
      { ...minimal, methods: [{ method: "mosa", "mosa-share": "left" }] },
      /methods\[0\] \("mosa"\): "mosa-share" expected one of down, up, none/,
    ],
    [
      { ...minimal, train: { "lr-schedule": "step" } },
      /train: "lr-schedule" expected one of constant, cosine/,
    ],
    [{ ...minimal, train: { out: "x" } }, /train: "out" is set by the study for each cell/],
    [{ ...minimal, train: { "micro-steps": 2 } }, /train: unknown option "micro-steps"/],
    [{ ...minimal, eval: { holdout: 0.2 } }, /eval: unknown option "holdout"/],
    [{ ...minimal, seeds: [0, -1] }, /"seeds" must be a non-empty array of non-negative integers/],
    [{ ...minimal, seeds: [1, 1] }, /seeds: "1" appears twice/],
    [
      { ...minimal, train: { holdout: 0.2, split: "test" }, eval: { split: "val" } },
      /eval.split "val" cannot apply to method "baseline"/,
    ],
  ];
  for (const [value, pattern] of cases) {
    throws(() => parseStudy(value, "/s/study.json"), (error: Error) => {
      assertEquals(error.message.startsWith('Cannot use study "/s/study.json": '), true);
      assertEquals(pattern.test(error.message), true, `${pattern} vs ${error.message}`);
      return true;
    });
  }
});

Deno.test("peftConfigOf resolves the defaults an entry leaves out", () => {
  assertEquals(peftConfigOf("mopeft", {}).loraRank, 8);
  assertEquals(peftConfigOf("mopeft", { "adapter-dim": 256 }).adapterDim, 256);
  assertEquals(peftConfigOf("baseline", {}).method, "decoder");
});

Deno.test("loadStudy checks the checkpoint and every dataset split on disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_study_file_" });
  await writeSafetensors(`${dir}/sam.safetensors`, randomSamTensors(architectureOf(TINY_SIZE), 1));
  const synthetic = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
  const write = async (value: unknown) => {
    await Deno.writeTextFile(`${dir}/study.json`, JSON.stringify(value));
    return `${dir}/study.json`;
  };
  const loaded = await loadStudy(
    await write({ ...minimal, datasets: [{ name: "syn", data: synthetic }] }),
  );
  assertEquals(loaded.classCounts.get("syn"), 3);
  assertEquals(loaded.architecture.encoder.depth, TINY_SIZE.depth);
  const rejects = async (value: unknown, pattern: RegExp) => {
    const path = await write(value);
    try {
      await loadStudy(path);
    } catch (error) {
      if (!pattern.test((error as Error).message)) throw error;
      return;
    }
    throw new Error(`accepted ${JSON.stringify(value)}`);
  };
  await rejects(
    { ...minimal, datasets: [{ name: "syn", data: synthetic }], train: { split: "val" } },
    /datasets\[0\] \("syn"\), split "val": .*no split "val"/,
  );
  await rejects({
    ...minimal,
    checkpoint: "nothing.safetensors",
    datasets: [{ name: "syn", data: synthetic }],
  }, /checkpoint ".*nothing\.safetensors"/);
  await rejects(
    minimal,
    /datasets\[0\] \("mine"\), split "train": Cannot read dataset ".*data\/mine": folder not found/,
  );
  await Deno.writeTextFile(`${dir}/broken.json`, "{");
  try {
    await loadStudy(`${dir}/broken.json`);
    throw new Error("accepted broken JSON");
  } catch (error) {
    assertEquals(
      /Cannot read study ".*broken\.json": not valid JSON/.test((error as Error).message),
      true,
    );
  }
  await Deno.remove(dir, { recursive: true });
});
