/**
 * Recording gate values during inference, and the `inspect-gates` report built from them.
 *
 * @module
 */
import { type Tensor, type Tensor1D, tf } from "../backend/tf.ts";
import type { GateObserver } from "../peft/gate.ts";
import type { ModuleKind } from "../peft/registry.ts";

/** The gate values of one image: per block, per gated module, the value in (0, 1). */
export interface GateImageRecord {
  blocks: Array<Partial<Record<ModuleKind, number>>>;
}

interface PendingGate {
  block: number;
  kind: ModuleKind;
  values: Tensor; // [B], kept until collect()
}

/**
 * Collects every gate's value per image and per block. The model hands each gate tensor to
 * {@link GateRecorder.capture} during the forward pass (a kept copy, no read); one
 * {@link GateRecorder.collect} afterwards reads all of them with a single download.
 *
 * @example
 * ```ts ignore
 * const recorder = new GateRecorder();
 * model.forward(images, recorder).dispose();
 * await recorder.collect();
 * const report = gateReport(recorder.images, { threshold: 0.5 });
 * ```
 */
export class GateRecorder implements GateObserver {
  readonly #images: GateImageRecord[] = [];
  #pending: PendingGate[][] = [];

  /** Every image recorded so far, in order. */
  get images(): readonly GateImageRecord[] {
    return this.#images;
  }

  /**
   * Records the values `[B]` of gate `kind` in block `block` for the current forward pass. A
   * `(block, kind)` pair seen again starts a new pass (the next batch).
   */
  capture(block: number, kind: ModuleKind, values: Tensor1D): void {
    let pass = this.#pending.at(-1);
    if (!pass || pass.some((p) => p.block === block && p.kind === kind)) {
      pass = [];
      this.#pending.push(pass);
    }
    // A kept copy survives the forward pass's tidy scope; collect() frees it.
    pass.push({ block, kind, values: tf.keep(tf.clone(values)) });
  }

  /** Reads every pending gate value (one download) into {@link images}. */
  async collect(): Promise<void> {
    const passes = this.#pending;
    this.#pending = [];
    const all = passes.flat();
    if (all.length === 0) return;
    const flat = tf.tidy(() => tf.concat(all.map((p) => p.values.reshape([-1]))));
    const values = await flat.data();
    flat.dispose();
    tf.dispose(all.map((p) => p.values));
    let offset = 0;
    for (const pass of passes) {
      const batch = pass[0]!.values.shape[0]!;
      const images: GateImageRecord[] = Array.from({ length: batch }, () => ({ blocks: [] }));
      for (const gate of pass) {
        for (let image = 0; image < batch; image++) {
          const blocks = images[image]!.blocks;
          while (blocks.length <= gate.block) blocks.push({});
          blocks[gate.block]![gate.kind] = values[offset + image]!;
        }
        offset += batch;
      }
      this.#images.push(...images);
    }
  }

  /** Forgets the recorded images and frees anything pending. */
  clear(): void {
    tf.dispose(this.#pending.flat().map((p) => p.values));
    this.#pending = [];
    this.#images.length = 0;
  }
}

/** Statistics of one gate (one module in one block) over the recorded images. */
export interface GateStatistics {
  /** Images in which the gate exceeded the threshold (the module was "called"). */
  calls: number;
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Counts per bin of equal width over [0, 1] (a value of exactly 1 falls in the last). */
  histogram: number[];
}

/** The `inspect-gates` report: JSON-able. */
export interface GateReport {
  images: number;
  threshold: number;
  bins: number;
  /** The gated modules seen, in first-seen order. */
  modules: ModuleKind[];
  /** Calls per module over every image and block (thesis Figure 4.2's totals). */
  calls: Partial<Record<ModuleKind, number>>;
  blocks: Array<{
    block: number;
    gates: Partial<Record<ModuleKind, GateStatistics>>;
    /** The module called most often in this block (ties: the higher mean); null if none gated. */
    dominant: ModuleKind | null;
  }>;
}

/**
 * Builds the report from recorded values: a pure function of its inputs.
 *
 * @example
 * ```ts
 * const report = gateReport([{ blocks: [{ lora: 0.9, adapter: 0.2 }] }], { threshold: 0.5 });
 * report.calls.lora; // 1
 * report.blocks[0]?.dominant; // "lora"
 * ```
 */
export function gateReport(
  images: readonly GateImageRecord[],
  options: { threshold: number; bins?: number },
): GateReport {
  const bins = options.bins ?? 10;
  const modules: ModuleKind[] = [];
  const depth = Math.max(0, ...images.map((image) => image.blocks.length));
  const calls: Partial<Record<ModuleKind, number>> = {};
  const blocks: GateReport["blocks"] = [];
  for (let block = 0; block < depth; block++) {
    const valuesByKind = new Map<ModuleKind, number[]>();
    for (const image of images) {
      for (const [kind, value] of Object.entries(image.blocks[block] ?? {})) {
        const k = kind as ModuleKind;
        if (!modules.includes(k)) modules.push(k);
        if (!valuesByKind.has(k)) valuesByKind.set(k, []);
        valuesByKind.get(k)!.push(value as number);
      }
    }
    const gates: Partial<Record<ModuleKind, GateStatistics>> = {};
    let dominant: ModuleKind | null = null;
    for (const [kind, values] of valuesByKind) {
      const stats = statistics(values, options.threshold, bins);
      gates[kind] = stats;
      calls[kind] = (calls[kind] ?? 0) + stats.calls;
      const best = dominant ? gates[dominant]! : undefined;
      if (
        !best || stats.calls > best.calls || (stats.calls === best.calls && stats.mean > best.mean)
      ) {
        dominant = kind;
      }
    }
    blocks.push({ block, gates, dominant });
  }
  return { images: images.length, threshold: options.threshold, bins, modules, calls, blocks };
}

function statistics(values: number[], threshold: number, bins: number): GateStatistics {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  const histogram = new Array<number>(bins).fill(0);
  for (const value of values) {
    histogram[Math.min(bins - 1, Math.max(0, Math.floor(value * bins)))]! += 1;
  }
  return {
    calls: values.filter((value) => value > threshold).length,
    mean,
    std: Math.sqrt(variance),
    histogram,
  };
}
