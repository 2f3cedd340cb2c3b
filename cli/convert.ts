/**
 * `mopeft convert IN.pth OUT.safetensors`: turns an official SAM checkpoint into the safetensors
 * file the other commands load.
 *
 * @module
 */
import type { Command } from "commander";
import { convertPthToSafetensors } from "../lib/io/convert.ts";
import { log, printJson } from "./io.ts";

/**
 * Adds the `convert` subcommand to `program`. Prints a JSON summary (`in`, `out`, `tensors`,
 * `values`, `bytes`, `seconds`) on stdout and progress on stderr.
 *
 * @example
 * ```ts ignore
 * const program = new Command("mopeft");
 * registerConvert(program);
 * await program.parseAsync(["convert", "sam_vit_b_01ec64.pth", "sam_vit_b.safetensors"], { from: "user" });
 * ```
 */
export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description(
      "Convert a PyTorch checkpoint (.pth, e.g. sam_vit_b_01ec64.pth) to float32 safetensors, " +
        "keeping every key and value.",
    )
    .argument("<in>", "PyTorch checkpoint written by torch.save")
    .argument("<out>", "safetensors file to write (replaced atomically if it exists)")
    .action(async (inPath: string, outPath: string) => {
      const started = performance.now();
      let lastTenth = 0;
      const summary = await convertPthToSafetensors(inPath, outPath, {
        onProgress: ({ index, total }) => {
          if (index === 1) log(`convert: ${total} tensors from ${inPath}`);
          // One line per tenth of the tensors: visible progress, without 300 lines.
          const tenth = Math.floor((index * 10) / total);
          if (tenth > lastTenth) {
            lastTenth = tenth;
            log(`convert: ${tenth * 10}% (${index}/${total} tensors)`);
          }
        },
      });
      const seconds = Math.round((performance.now() - started) / 10) / 100;
      log(`convert: wrote ${outPath} in ${seconds} s`);
      printJson({ in: inPath, ...summary, seconds });
    });
}
