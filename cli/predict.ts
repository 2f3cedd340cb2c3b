/**
 * `mopeft predict`: class-index PNGs (and optionally colour maps and overlays) for images.
 *
 * @module
 */
import type { Command } from "commander";
import { basename, extname, join } from "node:path";
import { decodeRgb } from "../lib/image/decode.ts";
import { writeLabelPng } from "../lib/image/label_png.ts";
import { predictImage } from "../lib/eval/predict_image.ts";
import { classPalette, writeOverlayPng } from "../lib/image/palette.ts";
import { openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { addDataOptions, type DataOptions, loadDataSplit } from "./data_options.ts";
import { printJson, setQuiet, UsageError } from "./io.ts";
import { nonNegativeInteger, positiveInteger } from "./options.ts";
import { createProgress } from "./progress.ts";

interface PredictOptions extends DataOptions {
  checkpoint: string;
  peft: string;
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
        "and an overlay on the image)",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .requiredOption("--peft <dir>", "trained run folder (from mopeft train)")
    .option("--image <files...>", "image files to predict")
    .requiredOption("--out <dir>", "folder for the PNGs")
    .option("--color", "also write <name>_color.png and <name>_overlay.png", false)
    .option(
      "--overlap <pixels>",
      "pixels shared by neighbouring tiles (default S/8)",
      nonNegativeInteger,
    )
    .option("--batch-size <n>", "tiles per forward pass", positiveInteger, 1)
    .option("--quiet", "no progress output", false);
  addDataOptions(command, "test");
  addBackendOptions(command).action(async (options: PredictOptions) => {
    setQuiet(options.quiet);
    if (!options.image && !options.data && !options.dataset) {
      throw new UsageError("predict needs --image FILE... or a dataset (--data DIR)");
    }
    await startBackend(options);
    const images = options.image ??
      (await loadDataSplit(options, options.split ?? "test")).pairs.map((pair) => pair.imagePath);
    const run = await openRun(options.checkpoint, options.peft);
    try {
      await Deno.mkdir(options.out, { recursive: true });
      const imageSize = run.base.weights.architecture.encoder.imageSize;
      const numClasses = run.manifest.classNames.length;
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
        const { classes } = await predictImage((batch) => run.model.forward(batch), image, {
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
        classNames: run.manifest.classNames,
        files: written,
      });
    } finally {
      run.dispose();
    }
  });
}
