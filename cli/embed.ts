/**
 * `mopeft embed`: SAM image embeddings for one image, written as safetensors.
 *
 * @module
 */
import type { Command } from "commander";
import { loadCheckpoint } from "../lib/encoder/checkpoint.ts";
import { embedImageFile } from "../lib/encoder/embed.ts";
import { writeSafetensors } from "../lib/io/safetensors.ts";
import { addBackendOptions, startBackend } from "./backend_option.ts";
import { log, printJson, setQuiet } from "./io.ts";

interface EmbedOptions {
  checkpoint: string;
  image: string;
  out: string;
  backend: string;
  verbose: boolean;
  quiet: boolean;
}

/** Registers `mopeft embed`. */
export function registerEmbed(program: Command): void {
  const command = program.command("embed")
    .description(
      "Preprocess an image as SAM does and write its image embeddings " +
        "(tensor image_embeddings, [1, 256, S/16, S/16]) to a safetensors file",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors)")
    .requiredOption("--image <file>", "image file (JPEG, PNG, TIFF)")
    .requiredOption("--out <file>", "output .safetensors file")
    .option("--quiet", "no progress output", false);
  addBackendOptions(command).action(async (options: EmbedOptions) => {
    setQuiet(options.quiet);
    const choice = await startBackend(options);
    const started = performance.now();
    const weights = await loadCheckpoint(options.checkpoint);
    const loaded = performance.now();
    log(`mopeft: loaded ${options.checkpoint} in ${((loaded - started) / 1000).toFixed(1)} s`);
    const embedding = await embedImageFile(weights, options.image);
    const encoded = performance.now();
    weights.dispose();
    await writeSafetensors(options.out, [
      { name: "image_embeddings", shape: embedding.shape, data: embedding.values },
    ], {
      metadata: {
        input_size: JSON.stringify(embedding.inputSize),
        original_size: JSON.stringify(embedding.originalSize),
      },
    });
    printJson({
      out: options.out,
      shape: embedding.shape,
      inputSize: embedding.inputSize,
      originalSize: embedding.originalSize,
      backend: choice.backend,
      loadSeconds: round((loaded - started) / 1000),
      encodeSeconds: round((encoded - loaded) / 1000),
    });
  });
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
