/**
 * Micro-benchmark: image-encoder forward time with each PEFT method relative to the plain
 * encoder, on the active backend (median of N runs after warm-up). Weights are random, in SAM's
 * layout; only shapes matter for time.
 *
 *     deno run -A bench/peft_overhead.ts --size tiny|mid|vit_b [--backend wasm] [--runs 5]
 *
 * @module
 */
import { useBackend } from "../lib/backend/backend.ts";
import { type Tensor, tf } from "../lib/backend/tf.ts";
import { encodeImage } from "../lib/encoder/image_encoder.ts";
import {
  architectureOf,
  randomSamTensors,
  type SamSize,
  TINY_SIZE,
  VIT_B_SIZE,
} from "../lib/encoder/random_checkpoint.ts";
import { SamWeights } from "../lib/encoder/weights.ts";
import { validatePeftConfig } from "../lib/peft/config.ts";
import { PeftModel } from "../lib/peft/peft_model.ts";
import { METHOD_NAMES, type MethodName, methodSpec } from "../lib/peft/registry.ts";

/** A mid-size model: D 256, 4 blocks (one global), 512 px. */
export const MID_SIZE: SamSize = {
  imageSize: 512,
  embedDim: 256,
  depth: 4,
  numHeads: 4,
  windowSize: 14,
  globalBlocks: [3],
  outChans: 256,
  decoderMlpDim: 2048,
  iouHeadHiddenDim: 256,
};

/** The sizes the benchmark knows. */
export const BENCH_SIZES: Record<string, SamSize> = {
  tiny: TINY_SIZE,
  mid: MID_SIZE,
  vit_b: VIT_B_SIZE,
};

/** What {@link benchPeftOverhead} returns. */
export interface PeftOverheadResult {
  backend: string;
  size: string;
  runs: number;
  /** Median milliseconds of one encoder forward pass (batch 1) without PEFT. */
  plainMs: number;
  /** Per method: median milliseconds and the ratio to the plain runs interleaved with it. */
  methods: Array<{ method: MethodName; medianMs: number; relative: number }>;
}

/**
 * Times the image encoder (batch 1) plain and with each method's modules (default config), on
 * the backend that is active.
 *
 * @example
 * ```ts ignore
 * const result = await benchPeftOverhead({ size: "tiny" });
 * result.methods.find((m) => m.method === "mopeft")?.relative; // e.g. 1.3
 * ```
 */
export async function benchPeftOverhead(
  options: { size?: string; runs?: number; warmup?: number; methods?: MethodName[] } = {},
): Promise<PeftOverheadResult> {
  const sizeName = options.size ?? "tiny";
  const size = BENCH_SIZES[sizeName];
  if (!size) {
    throw new RangeError(
      `unknown size "${sizeName}" (known: ${Object.keys(BENCH_SIZES).join(", ")})`,
    );
  }
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 2;
  const methods = options.methods ??
    METHOD_NAMES.filter((m) => methodSpec(m).modules.length > 0 && m !== "mosa");
  const architecture = architectureOf(size);
  const tensors = new Map<string, Tensor>();
  for (const t of randomSamTensors(architecture, 1)) {
    tensors.set(t.name, tf.tensor(t.data(), t.shape, "float32"));
  }
  const sam = new SamWeights(architecture, tensors);
  const images = tf.randomNormal(
    [1, size.imageSize, size.imageSize, 3],
    0,
    1,
    "float32",
    1,
  ) as tf.Tensor4D;
  const once = async (run: () => Tensor): Promise<number> => {
    const begin = performance.now();
    const out = run();
    await out.data();
    const elapsed = performance.now() - begin;
    out.dispose();
    return elapsed;
  };
  const median = (samples: number[]) =>
    [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
  try {
    const plain = () => encodeImage(sam, images);
    for (let i = 0; i < warmup; i++) await once(plain);
    const plainSamples: number[] = [];
    const results: PeftOverheadResult["methods"] = [];
    for (const method of methods) {
      const model = PeftModel.create(sam, validatePeftConfig({ method }), {
        numClasses: 2,
        seed: 1,
      });
      const extensions = model.extensions();
      const extended = () => encodeImage(sam, images, extensions);
      for (let i = 0; i < warmup; i++) await once(extended);
      // Interleaved with plain runs, so that drift (thermal, other load) hits both alike.
      const plainHere: number[] = [];
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        plainHere.push(await once(plain));
        samples.push(await once(extended));
      }
      plainSamples.push(...plainHere);
      results.push({
        method,
        medianMs: median(samples),
        relative: median(samples) / median(plainHere),
      });
      model.dispose();
    }
    const plainMs = median(plainSamples);
    return { backend: tf.getBackend(), size: sizeName, runs, plainMs, methods: results };
  } finally {
    images.dispose();
    sam.dispose();
  }
}

async function main(): Promise<void> {
  const args = Deno.args;
  const flag = (name: string) => {
    const index = args.indexOf(`--${name}`);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const backend = flag("backend") ?? "wasm";
  if (backend !== "wasm" && backend !== "cpu" && backend !== "webgpu" && backend !== "auto") {
    throw new RangeError(`unknown backend "${backend}"`);
  }
  await useBackend(backend);
  const result = await benchPeftOverhead({
    size: flag("size") ?? "tiny",
    runs: Number(flag("runs") ?? 5),
  });
  console.log(JSON.stringify(result, null, 2));
}

if (import.meta.main) await main();
