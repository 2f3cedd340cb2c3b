/**
 * The demo (`deno task demo`): the whole tool on the committed synthetic dataset with a small
 * SAM-shaped checkpoint. It trains a Mixture of PEFTs, scores the untrained and the trained head,
 * inspects the gates, then trains the detection head on the committed COCO-layout detection
 * fixtures and scores it before and after (AP50 and AR100 on the validation split), and prints a
 * short summary. Every step is a real `mopeft` command, run as a user would run it; their JSON
 * output is read back from stdout. Each command's time goes to stderr, and the last line gives
 * the semantic and detection stages' times (the README quotes the summary above the file list:
 * scripts/check_readme_demo.ts compares the two).
 *
 * The checkpoint has random weights (a pretrained SAM is 375 MB and never downloaded here): it is
 * generated deterministically on the first run and cached in `.cache/demo/`.
 *
 * @module
 */
import { architectureOf, randomSamTensors, TINY_SIZE } from "../lib/encoder/random_checkpoint.ts";
import { writeSafetensors } from "../lib/io/safetensors.ts";

const root = new URL("../", import.meta.url).pathname;
const work = `${root}.cache/demo`;
const checkpoint = `${work}/sam_tiny.safetensors`;
const data = `${root}fixtures/mess/synthetic`;
const steps = Number(Deno.env.get("MOPEFT_DEMO_STEPS") ?? 300);
const detectionData = `${root}fixtures/detection`;
const detectionSteps = Number(Deno.env.get("MOPEFT_DEMO_DETECTION_STEPS") ?? 600);

async function mopeft(args: string[]): Promise<Record<string, unknown>> {
  console.error(`\n$ mopeft ${args.join(" ").replaceAll(root, "")}`);
  const started = performance.now();
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}cli.ts`, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`demo: "mopeft ${args[0]}" failed with exit code ${code}`);
    Deno.exit(1);
  }
  console.error(`demo: mopeft ${args[0]} took ${seconds(started)} s`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** Seconds since `started` (a `performance.now()`), one decimal. */
function seconds(started: number): string {
  return ((performance.now() - started) / 1000).toFixed(1);
}

/** Images and objects of a COCO annotations file. */
async function cocoCounts(path: string): Promise<{ images: number; objects: number }> {
  const instances = JSON.parse(await Deno.readTextFile(path));
  return { images: instances.images.length, objects: instances.annotations.length };
}

async function ensureCheckpoint(): Promise<void> {
  try {
    await Deno.stat(checkpoint);
    return;
  } catch {
    // Not made yet.
  }
  await Deno.mkdir(work, { recursive: true });
  console.error(`demo: generating a small SAM-shaped checkpoint (random weights) in ${checkpoint}`);
  await writeSafetensors(checkpoint, randomSamTensors(architectureOf(TINY_SIZE), 2024), {
    metadata: { note: "mopeft demo: SAM layout, TINY_SIZE, random weights (seed 2024)" },
  });
}

function percent(value: unknown): string {
  return typeof value === "number" ? `${value.toFixed(1)}%` : "n/a";
}

if (import.meta.main) {
  const started = performance.now();
  await ensureCheckpoint();
  const common = ["--checkpoint", checkpoint, "--data", data];
  const before = `${work}/untrained`;
  const after = `${work}/mopeft`;
  // The untrained semantic head: a run of zero steps.
  await mopeft([
    "train",
    ...common,
    "--method",
    "mopeft",
    "--out",
    before,
    "--steps",
    "0",
    "--force",
    "--quiet",
  ]);
  const scoreBefore = await mopeft([
    "eval",
    ...common,
    "--peft",
    before,
    "--split",
    "test",
    "--quiet",
  ]);
  await mopeft([
    "train",
    ...common,
    "--method",
    "mopeft",
    "--out",
    after,
    "--force",
    "--steps",
    String(steps),
    "--batch-size",
    "4",
    "--lr",
    "3e-3",
    "--lr-schedule",
    "cosine",
    "--warmup-steps",
    "20",
    "--log-every",
    "10",
    "--verbose",
  ]);
  const scoreAfter = await mopeft(["eval", ...common, "--peft", after, "--split", "test"]);
  const gates = await mopeft([
    "inspect-gates",
    ...common,
    "--peft",
    after,
    "--split",
    "test",
    "--svg",
    `${work}/gates.svg`,
  ]);
  await mopeft([
    "predict",
    ...common,
    "--peft",
    after,
    "--split",
    "test",
    "--out",
    `${work}/predictions`,
    "--color",
    "--quiet",
  ]);

  const semanticSeconds = seconds(started);

  // Detection: the task comes from the dataset's layout (COCO); the untrained head, then training.
  const detectionStarted = performance.now();
  const detectionCommon = ["--checkpoint", checkpoint, "--data", detectionData];
  const detectionBefore = `${work}/detection_untrained`;
  const detectionAfter = `${work}/detection`;
  const detectionTrain = (out: string, count: number, extra: string[] = []) =>
    mopeft([
      "train",
      ...detectionCommon,
      "--method",
      "mopeft",
      "--queries",
      "20",
      "--out",
      out,
      "--steps",
      String(count),
      "--force",
      ...extra,
    ]);
  await detectionTrain(detectionBefore, 0, ["--quiet"]);
  const detectionScoreBefore = await mopeft([
    "eval",
    ...detectionCommon,
    "--peft",
    detectionBefore,
    "--split",
    "val",
    "--quiet",
  ]);
  await detectionTrain(detectionAfter, detectionSteps, [
    "--batch-size",
    "4",
    "--lr",
    "1e-2",
    "--lr-schedule",
    "cosine",
    "--warmup-steps",
    "10",
    "--log-every",
    "10",
  ]);
  const detectionScoreAfter = await mopeft([
    "eval",
    ...detectionCommon,
    "--peft",
    detectionAfter,
    "--split",
    "val",
  ]);
  await mopeft([
    "predict",
    ...detectionCommon,
    "--peft",
    detectionAfter,
    "--split",
    "val",
    "--out",
    `${work}/detections`,
    "--color",
    "--quiet",
  ]);

  const detectionSeconds = seconds(detectionStarted);
  const validation = await cocoCounts(`${detectionData}/annotations/instances_val.json`);

  const images = gates.images as number;
  const depth = gates.depth as number;
  const calls = gates.calls as Record<string, number>;
  const dominant = (gates.blocks as Array<{ dominant: string | null }>).map((b) =>
    b.dominant ?? "-"
  );
  const lines = [
    "",
    "mopeft demo: Mixture of PEFTs (gated LoRA + prefix + adapter) on a small SAM-shaped model",
    `  test mIoU   before training ${percent(scoreBefore.miou)}  ->  after ${steps} steps ${
      percent(scoreAfter.miou)
    }`,
    `  gate calls  over ${images} images x ${depth} blocks: ` +
    Object.entries(calls).map(([method, count]) => `${method} ${count}/${images * depth}`).join(
      ", ",
    ),
    `  dominant method per block: ${dominant.join(", ")}`,
    `  detection   val AP50 before training ${
      percent(detectionScoreBefore.ap50)
    }  ->  after ${detectionSteps} steps ${percent(detectionScoreAfter.ap50)}, AR100 ${
      percent(detectionScoreBefore.ar100)
    }  ->  ${percent(detectionScoreAfter.ar100)}`,
    `              (${validation.objects} objects in ${validation.images} images; COCO AP ${
      percent(detectionScoreAfter.ap)
    }, VOC07 mAP50 ${percent(detectionScoreAfter.voc07Map50)})`,
    `  files       run: ${
      after.replace(root, "")
    } (peft.safetensors, peft.json, metrics.jsonl, checkpoint/)`,
    `              gates chart: ${work.replace(root, "")}/gates.svg, predictions: ${
      work.replace(root, "")
    }/predictions/, detections: ${work.replace(root, "")}/detections/`,
    `  took ${seconds(started)} s (semantic ${semanticSeconds} s, detection ${detectionSeconds} s)`,
  ];
  console.log(lines.join("\n"));
}
