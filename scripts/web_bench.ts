/**
 * Figures for `mopeft web` (a script, not a test): one image segmented by the web page in headless
 * Chromium on wasm against `mopeft embed` on the same machine in the same run, and what the page
 * downloads.
 *
 *   deno run -A scripts/web_bench.ts                 # vit_b at 1024 px (random weights)
 *   deno run -A scripts/web_bench.ts --size tiny     # the tiny test model (seconds)
 *   deno run -A scripts/web_bench.ts --checkpoint sam_vit_b.safetensors --image photo.png
 *
 * Options: `--size vit_b|tiny`, `--checkpoint FILE` (else random weights of that size),
 * `--image FILE` (else a fixture scaled to the model's side), `--method lora|mopeft|...` (an
 * untrained run of it; default lora, whose page runs the encoder once per tile), `--runs N`
 * (timed page runs after the first, default 2), `--backend wasm|webgpu` (the page's; default
 * wasm), `--keep` (leave the work folder). Prints one JSON object to stdout; progress to stderr.
 *
 * What is timed: the page's `segment()` (decode, tile, encoder, decoder, stitch, draw; the first
 * call apart, as it compiles and warms up), its start (`ready`: backend, weight download, model
 * build), against `mopeft embed`'s own encode and load seconds (the image encoder alone, in Deno
 * on its default backend) and its wall time as a command. The page runs one 1024-px tile for a
 * 1024-px image, so its time is about embed's encoder plus the decoder.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { useBackend } from "../lib/backend/backend.ts";
import { defaultPeftConfig } from "../lib/peft/config.ts";
import { PeftModel } from "../lib/peft/peft_model.ts";
import type { MethodName } from "../lib/peft/registry.ts";
import { savePeftRun } from "../lib/peft/run_files.ts";
import {
  architectureOf,
  randomSamTensors,
  TINY_SIZE,
  VIT_B_SIZE,
} from "../lib/encoder/random_checkpoint.ts";
import { writeSafetensors } from "../lib/io/safetensors.ts";
import { decodeRgb } from "../lib/image/decode.ts";
import { resizeImage } from "../lib/image/resize.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { loadBaseCheckpoint } from "../lib/run/base_checkpoint.ts";
import { buildSite } from "../lib/web/build_site.ts";
import { serveSite } from "../lib/web/serve.ts";
import { hasChromium, launchChromium, NO_CHROMIUM } from "../tests/web/_browser.ts";
import sharp from "sharp";

const root = new URL("../", import.meta.url).pathname;
const log = (line: string) => console.error(`web_bench: ${line}`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "vit_b" },
      checkpoint: { type: "string" },
      image: { type: "string" },
      method: { type: "string", default: "lora" },
      runs: { type: "string", default: "2" },
      backend: { type: "string", default: "wasm" },
      keep: { type: "boolean", default: false },
    },
  });
  if (!hasChromium()) throw new Error(NO_CHROMIUM);
  const sizes = { vit_b: VIT_B_SIZE, tiny: TINY_SIZE } as const;
  const size = sizes[values.size as keyof typeof sizes];
  if (!size) throw new Error(`--size must be vit_b or tiny, not "${values.size}"`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
  const work = await Deno.makeTempDir({ prefix: "mopeft_web_bench_" });
  try {
    const checkpoint = values.checkpoint ?? `${work}/sam_${values.size}.safetensors`;
    if (!values.checkpoint) {
      log(`writing a random ${values.size} checkpoint`);
      await writeSafetensors(checkpoint, randomSamTensors(architectureOf(size), 1));
    }
    // An untrained run of the method (its cost, not its accuracy, is measured).
    log(`making an untrained ${values.method} run`);
    await useBackend("cpu");
    const base = await loadBaseCheckpoint(checkpoint);
    const imageSize = base.weights.architecture.encoder.imageSize;
    const model = PeftModel.create(
      base.weights,
      defaultPeftConfig(values.method as MethodName),
      { numClasses: 3, seed: 1 },
    );
    const run = `${work}/run`;
    await savePeftRun(run, model, {
      classNames: ["background", "a", "b"],
      baseFingerprint: base.fingerprint,
    });
    model.dispose();
    base.weights.dispose();

    const image = values.image ?? `${work}/image_${imageSize}.png`;
    if (!values.image) {
      const fixture = await decodeRgb(
        `${root}fixtures/mess/synthetic/images_detectron2/test/test_011_300x180.png`,
      );
      const scaled = await resizeImage(fixture, imageSize, imageSize);
      const png = await sharp(scaled.data, {
        raw: { width: imageSize, height: imageSize, channels: 3 },
      }).png().toBuffer();
      await writeFileAtomic(image, new Uint8Array(png));
    }

    log("building the page");
    const site = await buildSite({ checkpoint, peft: run, out: `${work}/site` });
    await Deno.copyFile(image, `${site.out}/bench_image.png`);

    log("mopeft embed");
    const embedStart = performance.now();
    const embedded = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        "embed",
        "--checkpoint",
        checkpoint,
        "--image",
        image,
        "--out",
        `${work}/embedding.safetensors`,
        "--quiet",
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const embedWall = (performance.now() - embedStart) / 1000;
    if (embedded.code !== 0) {
      throw new Error(`mopeft embed failed: ${new TextDecoder().decode(embedded.stderr)}`);
    }
    const embed = JSON.parse(new TextDecoder().decode(embedded.stdout));

    log(`the page in headless Chromium (${values.backend})`);
    const server = await serveSite(site.out, { port: 0 });
    const browser = await launchChromium({ webgpu: values.backend === "webgpu" });
    let page: Record<string, unknown>;
    try {
      const tab = await browser.browser.newPage();
      const opened = performance.now();
      await tab.goto(`${server.url}?backend=${values.backend}`);
      // deno-lint-ignore no-explicit-any
      await tab.evaluate(() => (globalThis as any).mopeft.ready);
      const readySeconds = (performance.now() - opened) / 1000;
      // deno-lint-ignore no-explicit-any
      const backend = await tab.evaluate(() => (globalThis as any).mopeft.backend as string);
      const segmentSeconds: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const seconds = await tab.evaluate(async () => {
          const started = performance.now();
          // deno-lint-ignore no-explicit-any
          await (globalThis as any).mopeft.segment("bench_image.png");
          return (performance.now() - started) / 1000;
        });
        segmentSeconds.push(Math.round(seconds * 1000) / 1000);
        log(`segment ${i === 0 ? "(first)" : i}: ${seconds.toFixed(2)} s`);
      }
      const warm = segmentSeconds.slice(1);
      const sorted = [...warm].sort((a, b) => a - b);
      const middle = sorted.length >> 1;
      // What the page fetched: index.html, mopeft.js, one of the wasm files, the weights.
      const fetchedBytes = await tab.evaluate(() =>
        [performance.getEntriesByType("navigation"), performance.getEntriesByType("resource")]
          .flat()
          .filter((entry) => !entry.name.endsWith("bench_image.png"))
          .reduce((sum, entry) => sum + (entry as PerformanceResourceTiming).encodedBodySize, 0)
      );
      page = {
        backend,
        readySeconds: Math.round(readySeconds * 1000) / 1000,
        firstSegmentSeconds: segmentSeconds[0],
        segmentSeconds: warm,
        medianSegmentSeconds: sorted.length % 2
          ? sorted[middle]
          : Math.round((sorted[middle - 1]! + sorted[middle]!) * 500) / 1000,
        fetchedBytes,
      };
    } finally {
      await browser.close();
      await server.shutdown();
    }
    console.log(JSON.stringify(
      {
        size: values.size,
        imageSize,
        method: values.method,
        image: values.image ?? "fixture test_011 scaled to the model's side",
        cores: navigator.hardwareConcurrency,
        page,
        embed: {
          backend: embed.backend,
          loadSeconds: embed.loadSeconds,
          encodeSeconds: embed.encodeSeconds,
          wallSeconds: Math.round(embedWall * 1000) / 1000,
        },
        download: {
          weightBytes: site.weightBytes,
          codeBytes: site.codeBytes,
          totalBytes: site.totalBytes,
          files: site.files,
        },
      },
      null,
      2,
    ));
  } finally {
    if (values.keep) log(`kept ${work}`);
    else await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`web_bench: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
