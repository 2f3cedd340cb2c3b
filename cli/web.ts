/**
 * `mopeft web`: a trained run as a static web page that segments images in the browser
 * (WebGPU or wasm), and with `--serve` a local server for it.
 *
 * @module
 */
import type { Command } from "commander";
import { useBackend } from "../lib/backend/backend.ts";
import { openRun } from "../lib/run/open_run.ts";
import { buildSite, checkSiteTarget } from "../lib/web/build_site.ts";
import { serveSite } from "../lib/web/serve.ts";
import { log, printJson, setQuiet, STOP_SIGNALS, UsageError } from "./io.ts";
import { nonNegativeInteger } from "./options.ts";

interface WebOptions {
  checkpoint: string;
  peft: string;
  out: string;
  serve: boolean;
  port: number;
  quiet: boolean;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Registers `mopeft web`. */
export function registerWeb(program: Command): void {
  program.command("web")
    .description(
      "Write a static web page that segments images in the browser with the run (WebGPU, or " +
        "wasm); --serve serves it on 127.0.0.1",
    )
    .requiredOption("--checkpoint <file>", "SAM checkpoint (.safetensors) the run was trained on")
    .requiredOption("--peft <dir>", "trained run folder (from mopeft train)")
    .requiredOption("--out <dir>", "folder for the page (new, empty, or an earlier page)")
    .option("--serve", "serve the folder on 127.0.0.1 until Ctrl-C", false)
    .option("--port <n>", "port for --serve (0: any free port)", nonNegativeInteger, 8080)
    .option("--quiet", "no progress output", false)
    .action(async (options: WebOptions) => {
      setQuiet(options.quiet);
      if (options.port > 65535) {
        throw new UsageError(`--port must be at most 65535, not ${options.port}`);
      }
      await checkSiteTarget(options.out);
      // The same checks as predict (checkpoint readable, run made on it), before writing.
      await useBackend("cpu");
      (await openRun(options.checkpoint, options.peft)).dispose();
      const summary = await buildSite({
        checkpoint: options.checkpoint,
        peft: options.peft,
        out: options.out,
        onProgress: (line) => log(`mopeft: web: ${line}`),
      });
      log(
        `mopeft: web: wrote ${summary.out}: weights ${megabytes(summary.weightBytes)} ` +
          `(checkpoint and run as they are), program ${megabytes(summary.codeBytes)}, ` +
          `${megabytes(summary.totalBytes)} in all`,
      );
      if (!options.serve) {
        printJson(summary);
        return;
      }
      const server = await serveSite(summary.out, { port: options.port });
      // The URL goes to stdout (a script reads it), like every other command's result.
      printJson({ ...summary, url: server.url });
      log(`mopeft: web: serving ${summary.out} at ${server.url} (Ctrl-C stops)`);
      const stop = () => server.shutdown();
      for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, stop);
      await server.finished;
      for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, stop);
      log("mopeft: web: stopped");
    });
}
