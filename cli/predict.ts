/**
 * `mopeft predict`: class-index PNGs (and optionally colour maps and overlays) for images.
 *
 * @module
 */
import type { Command } from "commander";
import { basename, extname, join } from "node:path";
import { decodeRgb } from "../lib/image/decode.ts";
import { writeLabelPng } from "../lib/image/label_png.ts";
import { type PredictFn, predictImage } from "../lib/eval/predict_image.ts";
import { openOnnxPredictor } from "../lib/export/onnx_predictor.ts";
import { classPalette, writeOverlayPng } from "../lib/image/palette.ts";
import { remapDetectionSplit } from "../lib/data/detection_classes.ts";
import { toCocoResults } from "../lib/data/coco_results.ts";
import type { DetectionSplit } from "../lib/data/detection_split.ts";
import { writeDetectionsPng } from "../lib/eval/detect_draw.ts";
import { detectImage } from "../lib/eval/detect_image.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { type OpenRun, openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { addDataOptions, type DataOptions, loadDataSplit } from "./data_options.ts";
import { printJson, setQuiet, UsageError } from "./io.ts";
import { nonNegativeInteger, nonNegativeNumber, positiveInteger } from "./options.ts";
import { createProgress } from "./progress.ts";
import {
  addDetectionDataOptions,
  checkDatasetTask,
  dataLayout,
  loadTaskDetectionSplit,
  type TaskDataOptions,
} from "./task_options.ts";

/** The COCO results file a detection run's predict writes into --out. */
const DETECTIONS_FILE = "detections.json";

interface PredictOptions extends DataOptions, TaskDataOptions {
  minScore: number;
  checkpoint?: string;
  peft?: string;
  onnx?: string;
  image?: string[];
  out: string;
  color: boolean;
  overlap?: number;
  batchSize: number;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Registers `mopeft predict`. */
export function registerPredict(program: Command): void {
  const command = program.command("predict")
    .description(
      "Write a class-index PNG per image at the image's size (with --color also a palette PNG " +
        "and an overlay on the image); for a detection run, the boxes as COCO results JSON (detections.json) " +
        "(with --color also each image with its boxes drawn)",
    )
    .option("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .option("--peft <dir>", "trained run folder (from mopeft train)")
    .option(
      "--onnx <dir>",
      "predict with a semantic export (from mopeft export) in onnxruntime instead of " +
        "--checkpoint and --peft",
    )
    .option("--image <files...>", "image files to predict")
    .requiredOption("--out <dir>", "folder for the PNGs")
    .option(
      "--color",
      "also write <name>_color.png and <name>_overlay.png; for a detection run <name>_boxes.png",
      false,
    )
    .option(
      "--overlap <pixels>",
      "pixels shared by neighbouring tiles (default S/8)",
      nonNegativeInteger,
    )
    .option("--batch-size <n>", "tiles per forward pass", positiveInteger, 1)
    .option(
      "--min-score <s>",
      "detection: boxes drawn by --color score at least this (the JSON has all)",
      nonNegativeNumber,
      0.3,
    )
    .option("--quiet", "no progress output", false);
  addDataOptions(command, "evaluate");
  addDetectionDataOptions(command);
  addBackendOptions(command).action(async (options: PredictOptions) => {
    setQuiet(options.quiet);
    if (!options.image && !options.data && !options.dataset && !options.annotations) {
      throw new UsageError("predict needs --image FILE... or a dataset (--data DIR)");
    }
    if (options.onnx && (options.checkpoint || options.peft)) {
      throw new UsageError("predict takes --onnx DIR or --checkpoint and --peft, not both");
    }
    if (!options.onnx && !(options.checkpoint && options.peft)) {
      throw new UsageError("predict needs --checkpoint FILE and --peft DIR (or --onnx DIR)");
    }
    await startBackend(options);
    if (options.onnx) {
      const images = options.image ??
        (await loadDataSplit(options, options.split, "evaluate")).pairs.map((pair) =>
          pair.imagePath
        );
      const onnx = await openOnnxPredictor(options.onnx);
      try {
        await predictSemantic(
          options,
          images,
          onnx.manifest.classNames,
          onnx.imageSize,
          onnx.predict,
        );
      } finally {
        await onnx.close();
      }
      return;
    }
    const layout = options.image ? undefined : await dataLayout(options);
    const run = await openRun(options.checkpoint!, options.peft!);
    try {
      if (layout) checkDatasetTask(run.model.head.task, layout, options, "predict with");
      if (run.model.head.task === "detection") {
        const split = options.image
          ? undefined
          : await loadTaskDetectionSplit(options, options.split, "evaluate");
        const files = options.image ?? split!.images.map((image) => image.file);
        await predictDetections(options, run, files, split);
        return;
      }
      const images = options.image ??
        (await loadDataSplit(options, options.split, "evaluate")).pairs.map((pair) =>
          pair.imagePath
        );
      await predictSemantic(
        options,
        images,
        run.manifest.classNames,
        run.base.weights.architecture.encoder.imageSize,
        (batch) => run.model.forward(batch),
      );
    } finally {
      run.dispose();
    }
  });
}

/** A semantic run's predict (the tfjs model or an ONNX export): class-index PNGs per image. */
async function predictSemantic(
  options: PredictOptions,
  images: string[],
  classNames: string[],
  imageSize: number,
  predict: PredictFn,
): Promise<void> {
  await Deno.mkdir(options.out, { recursive: true });
  const numClasses = classNames.length;
  const palette = classPalette(numClasses);
  const progress = createProgress({
    label: "predict",
    total: images.length,
    unit: "image",
    quiet: options.quiet,
  });
  const written: string[] = [];
  for (const [index, path] of images.entries()) {
    const image = await decodeRgb(path);
    const { classes } = await predictImage(predict, image, {
      size: imageSize,
      overlap: options.overlap ?? Math.floor(imageSize / 8),
      numClasses,
      batchSize: options.batchSize,
    });
    const stem = basename(path, extname(path));
    const target = join(options.out, `${stem}.png`);
    await writeLabelPng(target, classes.data, classes);
    written.push(target);
    if (options.color) {
      await writeLabelPng(join(options.out, `${stem}_color.png`), classes.data, {
        width: classes.width,
        height: classes.height,
        palette,
      });
      await writeOverlayPng(join(options.out, `${stem}_overlay.png`), image, classes, palette);
    }
    progress.update(index + 1);
  }
  progress.done();
  printJson({
    out: options.out,
    images: written.length,
    classNames,
    files: written,
  });
}

/**
 * A detection run's predict: COCO results for every image (`detections.json`; with a dataset its
 * image and category ids, else images numbered from 1 and the run's classes as ids 1..C) and,
 * with --color, each image with its boxes drawn.
 */
async function predictDetections(
  options: PredictOptions,
  run: OpenRun,
  files: string[],
  split?: DetectionSplit,
): Promise<void> {
  await Deno.mkdir(options.out, { recursive: true });
  const imageSize = run.base.weights.architecture.encoder.imageSize;
  const classNames = run.manifest.classNames;
  const palette = classPalette(classNames.length + 1).slice(3); // class 0's colour is black
  // Category ids: the dataset's for its classes (matched by name), else 1..C in the run's order.
  const ids = split
    ? remapDetectionSplit(split, classNames)
    : { categoryIds: classNames.map((_, k) => k + 1) };
  const progress = createProgress({
    label: "predict",
    total: files.length,
    unit: "image",
    quiet: options.quiet,
  });
  const results: ReturnType<typeof toCocoResults> = [];
  const drawn: string[] = [];
  for (const [index, path] of files.entries()) {
    const image = await decodeRgb(path);
    const { detections } = await detectImage((batch) => run.model.detect(batch), image, {
      size: imageSize,
      overlap: options.overlap ?? Math.floor(imageSize / 8),
      batchSize: options.batchSize,
    });
    const imageId = split ? split.images[index]!.id : index + 1;
    results.push(...toCocoResults(ids, imageId, detections));
    if (options.color) {
      const target = join(options.out, `${basename(path, extname(path))}_boxes.png`);
      await writeDetectionsPng(target, image, detections, {
        classNames,
        palette,
        minScore: options.minScore,
      });
      drawn.push(target);
    }
    progress.update(index + 1);
  }
  progress.done();
  const resultsPath = join(options.out, DETECTIONS_FILE);
  await writeFileAtomic(resultsPath, JSON.stringify(results) + "\n");
  printJson({
    out: options.out,
    task: "detection",
    images: files.length,
    detections: results.length,
    classNames,
    results: resultsPath,
    files: drawn,
  });
}
