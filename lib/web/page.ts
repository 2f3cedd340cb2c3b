/**
 * The web page's program (bundled by `mopeft web` into `mopeft.js`): loads the run's weights,
 * starts WebGPU or wasm, and segments the images a user picks or drops with the library's own
 * model, tiling and stitching (`predictImage`, `detectImage`), as `mopeft predict` does.
 *
 * For scripts and tests it sets `window.mopeft` ({@link MopeftPage}).
 *
 * `lib/web/deno.json` adds the DOM's types for this folder alone (a workspace member): the rest
 * of the project is checked without them, as the DOM's and Deno's declarations of a few globals
 * differ.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import {
  type BrowserBackendChoice,
  isBrowserBackendName,
  useBrowserBackend,
} from "../backend/browser_backend.ts";
import { type CocoResult, toCocoResults } from "../data/coco_results.ts";
import { detectImage } from "../eval/detect_image.ts";
import { detectionsSvg } from "../eval/detections_svg.ts";
import { predictImage } from "../eval/predict_image.ts";
import { recordGates } from "../gate/inspect.ts";
import { type GateReport, gateReport } from "../gate/recorder.ts";
import { classPalette } from "../image/class_palette.ts";
import type { RasterImage } from "../image/decode.ts";
import { encodeLabelPng } from "../image/label_png.ts";
import type { ScoredDetection } from "../data/detections.ts";
import { METHODS } from "../peft/registry.ts";
import type { OpenRun } from "../run/open_run.ts";
import { openRunFromBytes } from "../run/run_bytes.ts";
import { SITE_FILE, type SiteManifest } from "./site_manifest.ts";

/** What {@link MopeftPage.segment} resolves to. */
export interface Segmentation {
  width: number;
  height: number;
  /** One class index per pixel, row-major: the values of predict's label PNG. */
  classes: Uint8Array;
  backend: string;
  /** The stitched logits `[height, width, C]`, with `{ logits: true }`. */
  logits?: Float32Array;
  /** A gated run's gate values for this image, as `inspect-gates` reports them. */
  gates?: GateReport;
}

/** `window.mopeft`. */
export interface MopeftPage {
  /** Resolves once the weights are loaded and the backend started (rejects on a bad run). */
  ready: Promise<void>;
  /** The backend in use (`webgpu on <adapter>` or `wasm (SIMD, N threads)`), once ready. */
  backend?: string;
  /** Segments an image (a URL or a Blob) as predict does, and shows it on the page. */
  segment(image: string | Blob, options?: { logits?: boolean }): Promise<Segmentation>;
  /** A detection run's boxes for an image: predict's `detections.json` entries (image id 1). */
  detect(image: string | Blob): Promise<CocoResult[]>;
}

/** The boxes drawn score at least this: predict's `--min-score` default, or `?min-score=`. */
function minDrawnScore(): number {
  const value = Number(new URLSearchParams(location.search).get("min-score") ?? "0.3");
  return Number.isFinite(value) && value >= 0 ? value : 0.3;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function setStatus(text: string): void {
  $("status").textContent = text;
}

function showError(text: string): void {
  const line = $("error");
  line.textContent = text.split("\n")[0]!;
  line.hidden = text === "";
}

async function fetchBytes(url: string, onBytes: (bytes: number) => void): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`Cannot fetch "${url}": ${response.status} ${response.statusText}`);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/**
 * Decodes an image as predict's decoder does: 8-bit RGB, alpha dropped, no colour management
 * (a PNG's pixels are its stored values).
 */
async function decodeImage(source: string | Blob, name: string): Promise<RasterImage> {
  const blob = typeof source === "string" ? await (await fetch(source)).blob() : source;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    throw new Error(`Cannot read image "${name}": not an image, or corrupt image data`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { colorSpace: "srgb" })!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const data = new Uint8Array(canvas.width * canvas.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    data[j] = rgba[i]!;
    data[j + 1] = rgba[i + 1]!;
    data[j + 2] = rgba[i + 2]!;
  }
  return { data, width: canvas.width, height: canvas.height, channels: 3 };
}

function nameOf(source: string | Blob): string {
  if (typeof source === "string") return source.split("/").at(-1) || source;
  return source instanceof File ? source.name : "image";
}

function rgb(palette: Uint8Array, c: number): string {
  return `rgb(${palette[c * 3]},${palette[c * 3 + 1]},${palette[c * 3 + 2]})`;
}

/** One image on the page: its picture, the class overlay or the boxes, legend, gates. */
class ImageView {
  readonly element = document.createElement("figure");
  readonly #overlay = document.createElement("canvas");

  constructor(name: string, image: RasterImage) {
    this.element.className = "result";
    const caption = document.createElement("figcaption");
    caption.textContent = name;
    const stack = document.createElement("div");
    stack.className = "stack";
    const picture = document.createElement("canvas");
    picture.width = this.#overlay.width = image.width;
    picture.height = this.#overlay.height = image.height;
    const pixels = new ImageData(image.width, image.height);
    for (let i = 0, j = 0; j < image.data.length; i += 4, j += 3) {
      pixels.data.set([image.data[j]!, image.data[j + 1]!, image.data[j + 2]!, 255], i);
    }
    picture.getContext("2d")!.putImageData(pixels, 0, 0);
    this.#overlay.className = "overlay";
    this.#overlay.style.opacity = $<HTMLInputElement>("opacity").value;
    stack.append(picture, this.#overlay);
    this.element.append(caption, stack);
  }

  /** The class colours (class 0 left clear, as predict's overlay), a legend and a save button. */
  showClasses(classes: Uint8Array, classNames: readonly string[], stem: string): void {
    const palette = classPalette(classNames.length);
    const { width, height } = this.#overlay;
    const pixels = new ImageData(width, height);
    const counts = new Array<number>(classNames.length).fill(0);
    for (let i = 0; i < classes.length; i++) {
      const c = classes[i]!;
      counts[c] = (counts[c] ?? 0) + 1;
      if (c === 0) continue;
      pixels.data.set([palette[c * 3]!, palette[c * 3 + 1]!, palette[c * 3 + 2]!, 255], i * 4);
    }
    this.#overlay.getContext("2d")!.putImageData(pixels, 0, 0);
    const legend = document.createElement("ul");
    legend.className = "legend";
    classNames.forEach((name, c) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = rgb(palette, c);
      const share = (100 * counts[c]! / classes.length).toFixed(1);
      item.append(swatch, `${name} ${share}%`);
      legend.append(item);
    });
    const save = document.createElement("button");
    save.textContent = "Save mask PNG";
    save.className = "save";
    save.onclick = async () => {
      const png = await encodeLabelPng(classes, { width, height });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([png as BlobPart], { type: "image/png" }));
      link.download = `${stem}.png`;
      link.click();
      URL.revokeObjectURL(link.href);
    };
    this.element.append(legend, save);
  }

  /** The boxes and labels predict --color draws, over the image. */
  showBoxes(detections: readonly ScoredDetection[], classNames: readonly string[]): void {
    const palette = classPalette(classNames.length + 1).slice(3); // as predict: class 0 black
    const { width, height } = this.#overlay;
    const minScore = minDrawnScore();
    const boxes = document.createElement("div");
    boxes.className = "boxes";
    boxes.innerHTML = detectionsSvg(detections, width, height, {
      classNames,
      palette,
      minScore,
    });
    this.#overlay.replaceWith(boxes);
    const count = detections.filter((d) => d.score >= minScore).length;
    const note = document.createElement("p");
    note.className = "detections";
    note.textContent = `${count} boxes with score >= ${minScore} (of ${detections.length})`;
    this.element.append(note);
  }

  /** This image's gate value per block and module, as inspect-gates reports them. */
  showGates(report: GateReport): void {
    const table = document.createElement("table");
    table.className = "gates";
    const head = table.insertRow();
    for (const text of ["block", ...report.modules]) {
      const cell = document.createElement("th");
      cell.textContent = text;
      head.append(cell);
    }
    for (const block of report.blocks) {
      const row = table.insertRow();
      row.insertCell().textContent = String(block.block);
      for (const kind of report.modules) {
        const gate = block.gates[kind];
        const cell = row.insertCell();
        cell.textContent = gate ? gate.mean.toFixed(3) : "";
        if (gate && gate.calls > 0) cell.className = "called";
      }
    }
    const caption = table.createCaption();
    caption.textContent = `gates (called above ${report.threshold})`;
    this.element.append(table);
  }
}

function setOpacity(value: string): void {
  for (const overlay of document.querySelectorAll<HTMLElement>(".overlay")) {
    overlay.style.opacity = value;
  }
}

function start(): void {
  const api: MopeftPage = {
    ready: Promise.resolve(),
    segment: () => Promise.reject(new Error("the page is not ready")),
    detect: () => Promise.reject(new Error("the page is not ready")),
  };
  (globalThis as unknown as { mopeft: MopeftPage }).mopeft = api;
  api.ready = load(api);
  api.ready.catch((error) => {
    showError((error as Error).message);
    setStatus("not ready");
  });
  $<HTMLInputElement>("opacity").oninput = (event) =>
    setOpacity((event.target as HTMLInputElement).value);
}

async function load(api: MopeftPage): Promise<void> {
  const base = new URL("./", location.href).href;
  const requested = new URLSearchParams(location.search).get("backend") ?? "auto";
  if (!isBrowserBackendName(requested)) {
    throw new Error(`Unknown backend "${requested}" (use ?backend=webgpu or ?backend=wasm)`);
  }
  setStatus("starting the backend…");
  const choice: BrowserBackendChoice = await useBrowserBackend(requested, base);
  api.backend = choice.reason;
  $("backend").textContent = choice.reason;
  const site = await (await fetch(SITE_FILE)).json() as SiteManifest;
  let loaded = 0;
  const onBytes = (bytes: number) => {
    loaded += bytes;
    setStatus(
      `loading weights: ${(loaded / 1e6).toFixed(1)} of ${
        (site.downloadBytes / 1e6).toFixed(1)
      } MB`,
    );
  };
  const [checkpoint, manifest, weights] = await Promise.all([
    fetchBytes(site.checkpoint.file, onBytes),
    fetchBytes(site.manifest, onBytes),
    fetchBytes(site.weights, onBytes),
  ]);
  setStatus("building the model…");
  const run = await openRunFromBytes({
    checkpoint: { bytes: checkpoint, label: site.checkpoint.name },
    manifest: new TextDecoder().decode(manifest),
    weights: { bytes: weights, label: site.weights },
    runLabel: site.run,
  });
  $("run").textContent = `${site.run}: ${run.manifest.method}, ${run.model.head.task}, ` +
    `classes ${run.manifest.classNames.join(", ")}`;
  const queue = serial();
  api.segment = (image, options = {}) => queue(() => segment(run, choice, image, options));
  api.detect = (image) => queue(() => detect(run, image));
  const files = $<HTMLInputElement>("files");
  const handle = (list: FileList | null) => {
    for (const file of list ?? []) {
      const work = run.model.head.task === "detection" ? api.detect(file) : api.segment(file);
      work.catch(() => {}); // shown on the page by the call itself
    }
  };
  files.onchange = () => handle(files.files);
  const drop = $("drop");
  drop.ondragover = (event) => event.preventDefault();
  drop.ondrop = (event) => {
    event.preventDefault();
    handle(event.dataTransfer?.files ?? null);
  };
  files.disabled = false;
  setStatus("ready: pick or drop images");
}

/** Runs the page's jobs one at a time, in order (one model, one backend). */
function serial(): <T>(job: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>) => {
    const next = last.then(job, job);
    last = next.catch(() => {});
    return next;
  };
}

/** Runs `work` for one image with progress and its error on the page (and rethrows it). */
async function onImage<T>(name: string, work: () => Promise<T>): Promise<T> {
  showError("");
  setStatus(`working on ${name}…`);
  try {
    const result = await work();
    setStatus(`done: ${name}`);
    return result;
  } catch (error) {
    showError((error as Error).message);
    setStatus("ready: pick or drop images");
    throw error;
  }
}

function imageSize(run: OpenRun): number {
  return run.base.weights.architecture.encoder.imageSize;
}

function segment(
  run: OpenRun,
  choice: BrowserBackendChoice,
  source: string | Blob,
  options: { logits?: boolean },
): Promise<Segmentation> {
  const name = nameOf(source);
  return onImage(name, async () => {
    if (run.model.head.task === "detection") {
      throw new Error("This is a detection run: use detect()");
    }
    const image = await decodeImage(source, name);
    const size = imageSize(run);
    const classNames = run.manifest.classNames;
    const prediction = await predictImage(
      (batch, tiles) => {
        setStatus(`working on ${name}: tile ${tiles[0]!.index + 1} of ${tiles[0]!.count}…`);
        return run.model.forward(batch);
      },
      image,
      {
        size,
        overlap: Math.floor(size / 8),
        numClasses: classNames.length,
        logits: options.logits,
      },
    );
    const view = new ImageView(name, image);
    view.showClasses(prediction.classes.data, classNames, name.replace(/\.[^.]*$/, ""));
    const gates = METHODS[run.manifest.method].gated ? await gatesOf(run, image) : undefined;
    if (gates) view.showGates(gates);
    $("results").prepend(view.element);
    return {
      width: image.width,
      height: image.height,
      classes: prediction.classes.data,
      backend: choice.reason,
      ...(prediction.logits ? { logits: prediction.logits } : {}),
      ...(gates ? { gates } : {}),
    };
  });
}

async function gatesOf(run: OpenRun, image: RasterImage): Promise<GateReport> {
  // As inspect-gates reads an image: tiles of the model's side, no overlap.
  const records = await recordGates(run.model, {
    options: { size: imageSize(run) },
    async *samples() {
      yield { image };
    },
  });
  return gateReport(records, { threshold: run.manifest.config.gateThreshold });
}

function detect(run: OpenRun, source: string | Blob): Promise<CocoResult[]> {
  const name = nameOf(source);
  return onImage(name, async () => {
    if (run.model.head.task !== "detection") {
      throw new Error("This is a semantic segmentation run: use segment()");
    }
    const image = await decodeImage(source, name);
    const size = imageSize(run);
    const classNames = run.manifest.classNames;
    const { detections } = await detectImage((batch) => run.model.detect(batch), image, {
      size,
      overlap: Math.floor(size / 8),
    });
    const view = new ImageView(name, image);
    view.showBoxes(detections, classNames);
    if (METHODS[run.manifest.method].gated) view.showGates(await gatesOf(run, image));
    $("results").prepend(view.element);
    // As predict without a dataset: image id 1, the run's classes as category ids 1..C.
    return toCocoResults({ categoryIds: classNames.map((_, k) => k + 1) }, 1, detections);
  });
}

// Keeps tfjs's tensors in check across many images: every image's work is tidy-scoped in the
// library, so the count stays flat; exposed for tests.
(globalThis as unknown as { mopeftTensors: () => number }).mopeftTensors = () =>
  tf.memory().numTensors;

start();
