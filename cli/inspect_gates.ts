/**
 * `mopeft inspect-gates`: how often each PEFT method of a trained mixture is called.
 *
 * @module
 */
import type { Command } from "commander";
import { DetectionReader } from "../lib/data/detection_reader.ts";
import { SegmentationReader } from "../lib/data/reader.ts";
import { type ImageSource, recordGates } from "../lib/gate/inspect.ts";
import { gateReport } from "../lib/gate/recorder.ts";
import { gateReportSvg } from "../lib/gate/svg.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { METHODS } from "../lib/peft/registry.ts";
import { openRun } from "../lib/run/open_run.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { addDataOptions, type DataOptions, loadDataSplit } from "./data_options.ts";
import { printJson, setQuiet } from "./io.ts";
import { nonNegativeInteger, openFraction, positiveInteger } from "./options.ts";
import { createProgress } from "./progress.ts";
import {
  addDetectionDataOptions,
  dataLayout,
  layoutTask,
  loadTaskDetectionSplit,
  type TaskDataOptions,
} from "./task_options.ts";

interface InspectOptions extends DataOptions, TaskDataOptions {
  checkpoint: string;
  peft: string;
  gateThreshold?: number;
  bins: number;
  svg?: string;
  batchSize: number;
  seed: number;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Registers `mopeft inspect-gates`. */
export function registerInspectGates(program: Command): void {
  const command = program.command("inspect-gates")
    .description(
      "Report, as JSON, how often each gated PEFT method is called (gate above the threshold) " +
        "per image and block, with per-block statistics; --svg draws it",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .requiredOption("--peft <dir>", "trained mopeft run folder")
    .option(
      "--gate-threshold <t>",
      "a gate above this calls its method (default: the run's)",
      openFraction,
    )
    .option("--bins <n>", "histogram bins over [0, 1]", positiveInteger, 10)
    .option("--svg <file>", "also draw the per-method and per-block calls as SVG")
    .option("--batch-size <n>", "tiles per forward pass", positiveInteger, 1)
    .option("--seed <n>", "seed of --holdout (use the training run's)", nonNegativeInteger, 0)
    .option("--quiet", "no progress output", false);
  addDataOptions(command, "evaluate", true);
  addDetectionDataOptions(command);
  addBackendOptions(command).action(async (options: InspectOptions) => {
    setQuiet(options.quiet);
    await startBackend(options);
    const run = await openRun(options.checkpoint, options.peft);
    try {
      if (!METHODS[run.manifest.method].gated) {
        throw new Error(
          `Cannot inspect gates of run "${options.peft}": method ${run.manifest.method} has no gates (train with --method mopeft)`,
        );
      }
      const imageSize = run.base.weights.architecture.encoder.imageSize;
      // The gates live in the encoder: any run's gates can be read on either task's images.
      let reader: ImageSource;
      // Under --holdout: the held-out part of the split training used.
      const purpose = options.holdout === undefined ? "evaluate" : "train";
      let dataset: { id: string; name: string; split: string; images: number };
      if (layoutTask(await dataLayout(options)) === "detection") {
        const split = await loadTaskDetectionSplit(options, options.split, purpose, {
          part: "heldOut",
          seed: options.seed,
        });
        reader = new DetectionReader(split, { size: imageSize, skipBad: options.skipBad });
        dataset = {
          id: split.source,
          name: split.source,
          split: split.split,
          images: split.images.length,
        };
      } else {
        const split = await loadDataSplit(options, options.split, purpose, {
          part: "heldOut",
          seed: options.seed,
        });
        reader = new SegmentationReader(split, {
          size: imageSize,
          labels: false,
          skipBad: options.skipBad,
        });
        dataset = { ...split.dataset, images: split.pairs.length };
      }
      const progress = createProgress({
        label: "inspect-gates",
        total: dataset.images,
        unit: "image",
        quiet: options.quiet,
      });
      const images = await recordGates(run.model, reader, {
        batchSize: options.batchSize,
        onImage: (index) => progress.update(index + 1),
      });
      progress.done();
      const threshold = options.gateThreshold ?? run.manifest.config.gateThreshold;
      const report = gateReport(images, { threshold, bins: options.bins });
      const json = {
        dataset: dataset.id,
        split: dataset.split,
        method: run.manifest.method,
        depth: run.base.weights.architecture.encoder.depth,
        ...report,
      };
      if (options.svg) {
        await writeFileAtomic(
          options.svg,
          gateReportSvg(report, {
            title: `Gate calls: ${dataset.name} (${dataset.split})`,
          }),
        );
      }
      printJson(json);
    } finally {
      run.dispose();
    }
  });
}
