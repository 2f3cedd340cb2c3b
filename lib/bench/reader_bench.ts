/**
 * Benchmark of the streaming reader: tiles per second for a large JPEG and a large PNG, and the
 * peak resident memory while tiling a very large image (which must stay under 1 GiB: the reader
 * holds one decoded image plus the tiles in flight, never a whole split). `mopeft bench --reader`
 * runs it.
 *
 * @module
 */
import sharp from "sharp";
import { SegmentationReader } from "../data/reader.ts";
import { loadSplit } from "../data/split.ts";
import { resolveDataset } from "../data/resolve.ts";

/** Results of {@link benchReader}. */
export interface ReaderBenchResult {
  tileSize: number;
  /** Per format: image size, tiles per pass, passes, tiles per second (decode + cut). */
  throughput: {
    format: "jpeg" | "png";
    width: number;
    height: number;
    tilesPerImage: number;
    passes: number;
    tilesPerSecond: number;
  }[];
  /** Tiling one `side`×`side` JPEG: resident memory before and at its peak, in MiB. */
  largeImage: {
    side: number;
    tiles: number;
    seconds: number;
    rssBeforeMiB: number;
    peakRssMiB: number;
    underOneGiB: boolean;
  };
}

/**
 * Runs the benchmark in a temporary folder (removed afterwards) and returns the measurements.
 *
 * @example
 * ```ts ignore
 * const result = await benchReader({ passes: 2 });
 * console.log(result.throughput[0].tilesPerSecond);
 * ```
 */
export async function benchReader(
  options: {
    tileSize?: number;
    passes?: number;
    width?: number;
    height?: number;
    largeSide?: number;
  } = {},
): Promise<ReaderBenchResult> {
  const tileSize = options.tileSize ?? 1024;
  const passes = options.passes ?? 3;
  const width = options.width ?? 4000;
  const height = options.height ?? 3000;
  const largeSide = options.largeSide ?? 8000;
  const dir = await Deno.makeTempDir({ prefix: "mopeft_bench_reader_" });
  try {
    const throughput: ReaderBenchResult["throughput"] = [];
    for (const format of ["jpeg", "png"] as const) {
      const root = `${dir}/${format}`;
      await makeOneImageDataset(root, width, height, format);
      const reader = await openReader(root, tileSize);
      let tiles = 0;
      const started = performance.now();
      for (let pass = 0; pass < passes; pass++) {
        for await (const _tile of reader.tiles(pass)) tiles++;
      }
      const seconds = (performance.now() - started) / 1000;
      throughput.push({
        format,
        width,
        height,
        tilesPerImage: tiles / passes,
        passes,
        tilesPerSecond: round(tiles / seconds),
      });
    }

    const root = `${dir}/large`;
    await makeOneImageDataset(root, largeSide, largeSide, "jpeg");
    const reader = await openReader(root, tileSize);
    const rssBefore = Deno.memoryUsage().rss;
    let peak = rssBefore;
    // Sampled on a timer (catches peaks inside decoding) and after every tile.
    const timer = setInterval(() => (peak = Math.max(peak, Deno.memoryUsage().rss)), 5);
    let tiles = 0;
    const started = performance.now();
    for await (const _tile of reader.tiles()) {
      tiles++;
      peak = Math.max(peak, Deno.memoryUsage().rss);
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(timer);
    const mib = (bytes: number) => round(bytes / 2 ** 20);
    return {
      tileSize,
      throughput,
      largeImage: {
        side: largeSide,
        tiles,
        seconds: round(seconds),
        rssBeforeMiB: mib(rssBefore),
        peakRssMiB: mib(peak),
        underOneGiB: peak < 2 ** 30,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A user dataset holding one noisy image and an all-zero label, made without a JS buffer. */
async function makeOneImageDataset(
  root: string,
  width: number,
  height: number,
  format: "jpeg" | "png",
): Promise<void> {
  await Deno.mkdir(`${root}/images_detectron2/train`, { recursive: true });
  await Deno.mkdir(`${root}/annotations_detectron2/train`, { recursive: true });
  await Deno.writeTextFile(`${root}/classes.json`, JSON.stringify(["background", "object"]));
  const image = sharp({
    create: {
      width,
      height,
      channels: 3,
      background: "#708060",
      noise: { type: "gaussian", mean: 128, sigma: 20 },
    },
  });
  const imagePath = `${root}/images_detectron2/train/large.${format === "jpeg" ? "jpg" : "png"}`;
  await (format === "jpeg" ? image.jpeg({ quality: 90 }) : image.png()).toFile(imagePath);
  await sharp({ create: { width, height, channels: 3, background: "#000000" } })
    .toColourspace("b-w").png().toFile(`${root}/annotations_detectron2/train/large.png`);
}

async function openReader(root: string, tileSize: number): Promise<SegmentationReader> {
  const split = await loadSplit(await resolveDataset({ data: root, split: "train" }));
  return new SegmentationReader(split, { size: tileSize });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
