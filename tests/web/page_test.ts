/**
 * The web page in headless Chromium on the tiny fixture runs: its class maps against
 * `mopeft predict`'s PNGs (wasm and WebGPU), its logits against the library's in Deno, the
 * overlay and legend on a screenshot, the saved mask, a gated run's gates against
 * `inspect-gates`, a detection run's boxes against predict's JSON and drawing, and bad input.
 * Skipped, saying so, where Debian's chromium is absent (CI installs it).
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { useBackend } from "../../lib/backend/backend.ts";
import { predictImage } from "../../lib/eval/predict_image.ts";
import { detectionsSvg } from "../../lib/eval/detections_svg.ts";
import { classPalette } from "../../lib/image/class_palette.ts";
import { decodeRgb } from "../../lib/image/decode.ts";
import { decodeLabelPng, readLabelPng } from "../../lib/image/label_png.ts";
import { openRun } from "../../lib/run/open_run.ts";
import { serveSite, type SiteServer } from "../../lib/web/serve.ts";
import { runCliJson } from "../_cli.ts";
import { hasChromium, launchChromium, NO_CHROMIUM } from "./_browser.ts";
import {
  DETECTION_DATA,
  makeFixture,
  runOnRun,
  SEMANTIC_DATA,
  semanticImage,
  trainDetectionRun,
  type WebFixture,
} from "./_fixture.ts";

const browserPresent = hasChromium();
if (!browserPresent) console.warn(`tests/web/page_test.ts: ${NO_CHROMIUM}`);

/** wasm: a 128x128 image (one tile) and a 300x180 one (four tiles, stitched). */
const WASM_IMAGES = ["test_009_128x128.png", "test_011_300x180.png"];
/** WebGPU's software adapter runs about 10 s a tile here: two images of one tile each (a PNG,
 * and a JPEG: Chromium's decoder and libvips's give the same pixels). */
const WEBGPU_IMAGES = ["test_009_128x128.png", "train_006_128x96.jpg"];
const DETECTION_IMAGE = `${DETECTION_DATA}/images/val/val_010_200x140.png`;
/** The scores the random tiny detector reaches are low: draw from here (predict's --min-score). */
const MIN_SCORE = 0.1;

interface Setup {
  fixture: WebFixture;
  site: string;
  detectionSite: string;
  badRunSite: string;
  predicted: string;
  servers: SiteServer[];
}

let setup: Setup | undefined;
let preparing: Promise<Setup> | undefined;

async function copyImages(site: string, files: string[]): Promise<void> {
  await Deno.mkdir(`${site}/images`, { recursive: true });
  for (const file of files) {
    await Deno.copyFile(file, `${site}/images/${file.split("/").at(-1)}`);
  }
}

function prepare(): Promise<Setup> {
  return preparing ??= build();
}

async function build(): Promise<Setup> {
  const fixture = await makeFixture("mopeft_web_page_");
  const { work, checkpoint, semanticRun } = fixture;
  const site = `${work}/site`;
  await runOnRun("web", checkpoint, semanticRun, ["--out", site]);
  const images = [...new Set([...WASM_IMAGES, ...WEBGPU_IMAGES])].map(semanticImage);
  await copyImages(site, images);
  const predicted = `${work}/predicted`;
  await runOnRun("predict", checkpoint, semanticRun, ["--image", ...images, "--out", predicted]);
  const detectionRun = `${work}/detection_run`;
  await trainDetectionRun(checkpoint, detectionRun);
  const detectionSite = `${work}/detection_site`;
  await runOnRun("web", checkpoint, detectionRun, ["--out", detectionSite]);
  await copyImages(detectionSite, [DETECTION_IMAGE]);
  await runOnRun("predict", checkpoint, detectionRun, [
    "--image",
    DETECTION_IMAGE,
    "--out",
    `${work}/detected`,
  ]);
  // A folder whose run was trained on another checkpoint (mopeft web itself refuses to write one).
  const badRunSite = `${work}/bad_run_site`;
  await runOnRun("web", checkpoint, semanticRun, ["--out", badRunSite]);
  for (const name of ["peft.json", "peft.safetensors"]) {
    await Deno.copyFile(`${fixture.otherRun}/${name}`, `${badRunSite}/weights/${name}`);
  }
  await Deno.mkdir(`${badRunSite}/images`);
  await Deno.writeTextFile(`${badRunSite}/images/notes.png`, "not an image at all\n");
  const png = await Deno.readFile(semanticImage("test_009_128x128.png"));
  await Deno.writeFile(`${badRunSite}/images/corrupt.png`, png.subarray(0, png.length >> 1));
  await copyImages(site, [semanticImage("test_009_128x128.png")]);
  await Deno.writeTextFile(`${site}/images/notes.png`, "not an image at all\n");
  await Deno.writeFile(`${site}/images/corrupt.png`, png.subarray(0, png.length >> 1));
  setup = { fixture, site, detectionSite, badRunSite, predicted, servers: [] };
  return setup;
}

async function serve(dir: string): Promise<string> {
  const server = await serveSite(dir, { port: 0 });
  setup!.servers.push(server);
  return server.url;
}

/** The library's own logits in Deno (wasm, as predict runs here) for the semantic run. */
async function denoLogits(image: string): Promise<Float32Array> {
  await useBackend("wasm");
  const { fixture } = setup!;
  const run = await openRun(fixture.checkpoint, fixture.semanticRun);
  try {
    const size = run.base.weights.architecture.encoder.imageSize;
    const prediction = await predictImage((x) => run.model.forward(x), await decodeRgb(image), {
      size,
      overlap: size / 8,
      numClasses: run.manifest.classNames.length,
      logits: true,
    });
    return prediction.logits!;
  } finally {
    run.dispose();
  }
}

interface PageSegmentation {
  width: number;
  height: number;
  classes: number[];
  logits: number[];
  backend: string;
  gates?: { blocks: Array<{ block: number; gates: Record<string, { mean: number }> }> };
}

function segmentOnPage(page: Page, url: string): Promise<PageSegmentation> {
  return page.evaluate(async (url) => {
    // deno-lint-ignore no-explicit-any
    const result = await (globalThis as any).mopeft.segment(url, { logits: true });
    return { ...result, classes: Array.from(result.classes), logits: Array.from(result.logits) };
  }, url);
}

async function checkAgainstPredict(page: Page, name: string): Promise<PageSegmentation> {
  const result = await segmentOnPage(page, `images/${name}`);
  const label = await readLabelPng(`${setup!.predicted}/${name.replace(/\.[^.]*$/, "")}.png`);
  assertEquals([result.width, result.height], [label.width, label.height]);
  let same = 0;
  for (let i = 0; i < label.data.length; i++) if (label.data[i] === result.classes[i]) same++;
  const agreement = same / label.data.length;
  const logits = await denoLogits(semanticImage(name));
  assertEquals(result.logits.length, logits.length);
  let maxDiff = 0;
  for (let i = 0; i < logits.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - result.logits[i]!));
  }
  console.log(
    `${name} on ${result.backend}: ${(100 * agreement).toFixed(3)}% of pixels as predict's PNG, ` +
      `logits within ${maxDiff.toExponential(2)}`,
  );
  ok(agreement >= 0.999, `${name}: ${agreement}`);
  ok(maxDiff <= 1e-4, `${name}: logits differ by ${maxDiff}`);
  // A trained run on these images predicts more than one class (the overlay has something to show).
  ok(new Set(label.data).size > 1, `${name}: one class only`);
  return result;
}

function errorLine(page: Page): Promise<{ text: string; visible: boolean }> {
  return page.$eval("#error", (element) => ({
    text: element.textContent ?? "",
    visible: !(element as HTMLElement).hidden,
  }));
}

async function waitReady(page: Page): Promise<void> {
  // deno-lint-ignore no-explicit-any
  await page.evaluate(() => (globalThis as any).mopeft.ready);
}

Deno.test({
  name: "page on wasm: predict's class maps, logits within 1e-4, overlay, legend, mask, gates",
  ignore: !browserPresent,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { site, fixture, predicted } = await prepare();
    const url = await serve(site);
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 900, height: 1100 });
      await page.goto(`${url}?backend=wasm`);
      await waitReady(page);
      // deno-lint-ignore no-explicit-any
      const backend = await page.evaluate(() => (globalThis as any).mopeft.backend as string);
      ok(/^wasm \(SIMD, \d+ threads?\)$/.test(backend), backend);
      assertEquals(await page.$eval("#backend", (e) => e.textContent), backend);
      const results = [];
      for (const name of WASM_IMAGES) results.push(await checkAgainstPredict(page, name));

      // The newest image is first; its figure holds the overlay, the legend and the gates.
      const classNames = JSON.parse(await Deno.readTextFile(`${SEMANTIC_DATA}/classes.json`));
      const palette = classPalette(classNames.length);
      const last = results.at(-1)!;
      const legend = await page.$$eval(
        ".result:first-child .legend li",
        (items) =>
          items.map((item) => ({
            text: item.textContent,
            colour: getComputedStyle(item.querySelector(".swatch")!).backgroundColor,
          })),
      );
      assertEquals(
        legend,
        classNames.map((name: string, c: number) => {
          const share = last.classes.filter((k) => k === c).length / last.classes.length;
          return {
            text: `${name} ${(100 * share).toFixed(1)}%`,
            colour: `rgb(${palette[c * 3]}, ${palette[c * 3 + 1]}, ${palette[c * 3 + 2]})`,
          };
        }),
      );

      // The screenshot: the image with the class colours over it at the slider's opacity.
      const opacity = 0.6;
      const figure = (await page.$(".result:first-child"))!;
      const shot = `${fixture.work}/page_wasm.png`;
      await figure.screenshot({ path: shot });
      const canvas = (await page.$(".result:first-child .overlay"))!;
      const box = (await canvas.boundingBox())!;
      const figureBox = (await figure.boundingBox())!;
      const pixels = await decodeRgb(shot);
      const image = await decodeRgb(semanticImage(WASM_IMAGES.at(-1)!));
      const x0 = Math.round(box.x - figureBox.x);
      const y0 = Math.round(box.y - figureBox.y);
      let near = 0;
      let coloured = 0;
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          const c = last.classes[y * image.width + x]!;
          if (c !== 0) coloured++;
          let close = true;
          for (let k = 0; k < 3; k++) {
            const base = image.data[(y * image.width + x) * 3 + k]!;
            const expected = c === 0 ? base : (1 - opacity) * base + opacity * palette[c * 3 + k]!;
            const got = pixels.data[((y0 + y) * pixels.width + x0 + x) * 3 + k]!;
            if (Math.abs(got - expected) > 3) close = false;
          }
          if (close) near++;
        }
      }
      ok(coloured > 0.05 * image.width * image.height, `only ${coloured} coloured pixels`);
      ok(near >= 0.99 * image.width * image.height, `overlay: ${near} pixels as expected`);
      // The legend's swatches are in the screenshot in the palette's colours.
      const swatches = await page.$$(".result:first-child .swatch");
      for (const [c, swatch] of swatches.entries()) {
        const s = (await swatch.boundingBox())!;
        const sx = Math.round(s.x - figureBox.x + s.width / 2);
        const sy = Math.round(s.y - figureBox.y + s.height / 2);
        const at = (sy * pixels.width + sx) * 3;
        assertEquals([...pixels.data.subarray(at, at + 3)], [
          ...palette.subarray(c * 3, c * 3 + 3),
        ]);
      }

      // The opacity slider reaches every overlay.
      await page.$eval("#opacity", (input) => {
        (input as HTMLInputElement).value = "0.25";
        input.dispatchEvent(new Event("input"));
      });
      const opacities = await page.$$eval(
        ".overlay",
        (all) => all.map((e) => (e as HTMLElement).style.opacity),
      );
      assertEquals(opacities, WASM_IMAGES.map(() => "0.25"));

      // "Save mask PNG" writes predict's PNG: the same encoder, so the same pixels (and bytes,
      // when the browser's zlib compresses as Deno's does).
      const saved = await page.evaluate(async () => {
        let href = "";
        const original = HTMLAnchorElement.prototype.click;
        HTMLAnchorElement.prototype.click = function () {
          href = this.href;
        };
        const revoke = URL.revokeObjectURL;
        URL.revokeObjectURL = () => {};
        (document.querySelector(".result:first-child .save") as HTMLButtonElement).click();
        while (!href) await new Promise((resolve) => setTimeout(resolve, 10));
        HTMLAnchorElement.prototype.click = original;
        URL.revokeObjectURL = revoke;
        return Array.from(new Uint8Array(await (await fetch(href)).arrayBuffer()));
      });
      const stem = WASM_IMAGES.at(-1)!.replace(/\.png$/, "");
      const predictedPng = await Deno.readFile(`${predicted}/${stem}.png`);
      const savedPng = new Uint8Array(saved);
      assertEquals(
        (await decodeLabelPng(savedPng)).data,
        (await decodeLabelPng(predictedPng)).data,
      );
      console.log(
        `saved mask: ${savedPng.length} bytes, predict's ${predictedPng.length} bytes` +
          (savedPng.length === predictedPng.length &&
              savedPng.every((byte, i) => byte === predictedPng[i])
            ? " (identical)"
            : " (same pixels; the compressors differ)"),
      );

      // The gates shown are inspect-gates' for this image (a one-image dataset).
      const oneImage = `${fixture.work}/one_image`;
      for (const part of ["images_detectron2", "annotations_detectron2"]) {
        await Deno.mkdir(`${oneImage}/${part}/test`, { recursive: true });
        await Deno.copyFile(
          `${SEMANTIC_DATA}/${part}/test/${WASM_IMAGES.at(-1)}`,
          `${oneImage}/${part}/test/${WASM_IMAGES.at(-1)}`,
        );
      }
      await Deno.copyFile(`${SEMANTIC_DATA}/classes.json`, `${oneImage}/classes.json`);
      const inspected = await runCliJson([
        "inspect-gates",
        "--checkpoint",
        fixture.checkpoint,
        "--peft",
        fixture.semanticRun,
        "--data",
        oneImage,
        "--quiet",
      ]) as unknown as PageSegmentation["gates"] & { images: number };
      assertEquals(inspected.images, 1);
      const gates = last.gates!;
      assertEquals(gates.blocks.length, inspected.blocks.length);
      for (const [b, block] of inspected.blocks.entries()) {
        for (const [kind, stats] of Object.entries(block.gates)) {
          const shown = gates.blocks[b]!.gates[kind]!.mean;
          ok(Math.abs(shown - stats.mean) < 1e-5, `block ${b} ${kind}: ${shown} vs ${stats.mean}`);
        }
      }
      const cells = await page.$$eval(".result:first-child table.gates tr", (rows) => rows.length);
      assertEquals(cells, inspected.blocks.length + 1);
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "page on WebGPU (Chromium's software adapter): predict's class maps, logits within 1e-4",
  ignore: !browserPresent,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { site, fixture } = await prepare();
    const url = await serve(site);
    const { browser, close } = await launchChromium({ webgpu: true });
    try {
      // auto passes over the software adapter (as the command line does); ?backend=webgpu takes it.
      const auto = await browser.newPage();
      await auto.goto(url);
      await waitReady(auto);
      // deno-lint-ignore no-explicit-any
      const chosen = await auto.evaluate(() => (globalThis as any).mopeft.backend as string);
      ok(
        /^wasm \(SIMD, \d+ threads?; auto: the WebGPU adapter .+ is software\)$/.test(chosen),
        chosen,
      );
      await auto.close();
      const page = await browser.newPage();
      await page.goto(`${url}?backend=webgpu`);
      await waitReady(page);
      for (const name of WEBGPU_IMAGES) {
        const result = await checkAgainstPredict(page, name);
        ok(result.backend.startsWith("webgpu on "), result.backend);
      }
      await (await page.$(".result:first-child"))!.screenshot({
        path: `${fixture.work}/page_webgpu.png`,
      });
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "page, detection run: predict's detections, and the boxes drawn as predict draws them",
  ignore: !browserPresent,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { detectionSite, fixture } = await prepare();
    const url = await serve(detectionSite);
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${url}?backend=wasm&min-score=${MIN_SCORE}`);
      await waitReady(page);
      const name = DETECTION_IMAGE.split("/").at(-1)!;
      const found = await page.evaluate(
        // deno-lint-ignore no-explicit-any
        (url) => (globalThis as any).mopeft.detect(url),
        `images/${name}`,
      ) as Array<{ image_id: number; category_id: number; bbox: number[]; score: number }>;
      const expected = JSON.parse(
        await Deno.readTextFile(`${fixture.work}/detected/detections.json`),
      ) as typeof found;
      assertEquals(found.length, expected.length);
      ok(found.length > 0);
      for (const [i, want] of expected.entries()) {
        const got = found[i]!;
        assertEquals([got.image_id, got.category_id], [want.image_id, want.category_id]);
        for (let k = 0; k < 4; k++) ok(Math.abs(got.bbox[k]! - want.bbox[k]!) < 1e-2, `box ${i}`);
        ok(Math.abs(got.score - want.score) < 1e-4, `score ${i}`);
      }
      // The SVG over the image is predict --color's drawing of these detections.
      const classNames = ["square", "disc", "triangle"];
      const image = await decodeRgb(DETECTION_IMAGE);
      const svg = await page.$eval(".result:first-child .boxes", (e) => e.innerHTML);
      const drawn = expected.filter((d) => d.score >= MIN_SCORE);
      ok(drawn.length > 0, "no box reaches the score drawn");
      const expectedSvg = detectionsSvg(
        expected.map((d) => ({
          classIndex: d.category_id - 1,
          bbox: d.bbox as never,
          score: d.score,
        })),
        image.width,
        image.height,
        { classNames, palette: classPalette(4).slice(3), minScore: MIN_SCORE },
      );
      const boxes = (text: string) => text.match(/<rect [^>]*fill="none"[^>]*>/g) ?? [];
      assertEquals(boxes(svg).length, drawn.length);
      assertEquals(boxes(expectedSvg).length, drawn.length);
      const labels = (text: string) => [...text.matchAll(/<text[^>]*>([^<]*)</g)].map((m) => m[1]);
      assertEquals(labels(svg), labels(expectedSvg));
      const shot = `${fixture.work}/page_detection.png`;
      await (await page.$(".result:first-child"))!.screenshot({ path: shot });
      // A box's outline is on the screenshot in its class's colour.
      const figureBox = (await (await page.$(".result:first-child"))!.boundingBox())!;
      const stack = (await (await page.$(".result:first-child .stack"))!.boundingBox())!;
      const pixels = await decodeRgb(shot);
      const strongest = drawn.reduce((a, b) => (b.score > a.score ? b : a));
      const colour = classPalette(4).slice(3).subarray(
        (strongest.category_id - 1) * 3,
        strongest.category_id * 3,
      );
      const bx = Math.round(stack.x - figureBox.x + strongest.bbox[0]! + strongest.bbox[2]! / 2);
      const by = Math.round(stack.y - figureBox.y + strongest.bbox[1]! + strongest.bbox[3]!);
      let hit = false;
      for (let dy = -2; dy <= 1 && !hit; dy++) {
        const at = ((by + dy) * pixels.width + bx) * 3;
        const px = pixels.data.subarray(at, at + 3);
        hit = [0, 1, 2].every((k) => Math.abs(px[k]! - colour[k]!) <= 40);
      }
      ok(hit, "the strongest box's lower edge is not on the screenshot");
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "page: bad input is a visible one-line message and the page keeps working",
  ignore: !browserPresent,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { site, badRunSite, fixture } = await prepare();
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      // No WebGPU in this browser: auto takes wasm.
      await page.goto(await serve(site));
      await waitReady(page);
      // deno-lint-ignore no-explicit-any
      ok((await page.evaluate(() => (globalThis as any).mopeft.backend)).startsWith("wasm"));
      for (const [file, why] of [["notes.png", "not an image"], ["corrupt.png", "corrupt"]]) {
        const failed = await page.evaluate(
          // deno-lint-ignore no-explicit-any
          (url) => (globalThis as any).mopeft.segment(url).then(() => "", (e: Error) => e.message),
          `images/${file}`,
        );
        ok(failed.includes(file) && failed.includes(why), failed);
        const line = await errorLine(page);
        assertEquals(line, { text: failed, visible: true });
        ok(!line.text.includes("\n"));
        // The next image works, and clears the message.
        const good = await segmentOnPage(page, "images/test_009_128x128.png");
        assertEquals([good.width, good.height], [128, 128]);
        assertEquals((await errorLine(page)).visible, false);
      }
      // A picked file goes through the same path (and the same message).
      const input =
        (await page.$("input#files"))! as unknown as import("puppeteer-core").ElementHandle<
          HTMLInputElement
        >;
      await input.uploadFile(`${site}/images/notes.png`);
      await page.waitForFunction(() => !document.getElementById("error")!.hidden);
      ok((await errorLine(page)).text.includes("notes.png"));
      await input.uploadFile(semanticImage("test_009_128x128.png"));
      await page.waitForFunction(() => document.getElementById("error")!.hidden);

      // A folder whose run was trained on another checkpoint: the page says so, in one line.
      const bad = await browser.newPage();
      await bad.goto(`${await serve(badRunSite)}?backend=wasm`);
      const message = await bad.evaluate(() =>
        // deno-lint-ignore no-explicit-any
        (globalThis as any).mopeft.ready.then(() => "", (e: Error) => e.message)
      );
      ok(
        /^Cannot load PEFT run "run": it was trained on checkpoint sha256 \S+ but "sam_tiny\.safetensors" has \S+$/
          .test(message),
        message,
      );
      assertEquals(await errorLine(bad), { text: message, visible: true });
      const refused = await bad.evaluate(() =>
        // deno-lint-ignore no-explicit-any
        (globalThis as any).mopeft.segment("images/notes.png").then(
          () => "",
          (e: Error) => e.message,
        )
      );
      assertEquals(refused, "the page is not ready");
      await bad.screenshot({ path: `${fixture.work}/page_bad_run.png` });
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "page tests: stop their servers",
  ignore: !browserPresent,
  async fn() {
    for (const server of setup?.servers ?? []) await server.shutdown();
  },
});
