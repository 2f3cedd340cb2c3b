/**
 * MoSA (Mixture of Sparse Adapters) as its reference code trains it (Theia-4869/MoSA): each
 * split adapter projection is held as K full copies ("experts") of one initial tensor, and expert
 * k owns a fixed random 1/K of the weight's entries (the K masks are disjoint and cover the
 * matrix; biases are not split). Every forward pass of a training step draws, per block, one
 * expert for the down and one for the up projection, shared by the whole batch; the pass runs
 * through the drawn copies, and only the drawn copies' own entries learn. After training, and
 * for every evaluation, each split projection is the mean of its K copies, so what is stored
 * and run is one plain adapter.
 *
 * The draws are a pure function of (seed, step, block, pass), so a resumed run draws what an
 * uninterrupted one would, and the two runs of a stage that staged gradients make agree.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { mixSeed, mulberry32 } from "../nn/prng.ts";
import type { MosaShare, PeftConfig } from "./config.ts";
import { methodSpec } from "./registry.ts";
import { numel, tensorSeed } from "../nn/init.ts";

/** An adapter projection: `down` (D -> D_mid) or `up` (D_mid -> D). */
export type AdapterProjection = "down" | "up";

/** Which forward pass of a training step: 0, or 1 for the consistency term's second pass. */
export interface TrainingPass {
  /** The training step (0 for the first update). */
  step: number;
  /** The pass within the step. */
  pass: number;
}

/**
 * The projections split into experts under `share` (the other one stays dense).
 *
 * @example
 * ```ts
 * mosaSplitProjections("down"); // ["up"]
 * ```
 */
export function mosaSplitProjections(share: MosaShare): AdapterProjection[] {
  if (share === "down") return ["up"];
  if (share === "up") return ["down"];
  return ["down", "up"];
}

/**
 * The local name (under `encoder.blocks.<i>.adapter.`) of expert `expert`'s `weight` or `bias`.
 *
 * @example
 * ```ts
 * mosaExpertLocal("up", 2, "weight"); // "up.experts.2.weight"
 * ```
 */
export function mosaExpertLocal(
  projection: AdapterProjection,
  expert: number,
  tensor: "weight" | "bias",
): string {
  return `${projection}.experts.${expert}.${tensor}`;
}

/**
 * Assigns each of `count` entries to one of `parts` experts: a seeded shuffle dealt
 * round-robin, so the parts are disjoint, cover every entry, and differ in size by at most one
 * (the reference ranks a random score per entry and cuts the ranks into K quantiles: the same
 * distribution of partitions).
 *
 * @example
 * ```ts
 * const parts = mosaAssignment(10, 4, 1); // Uint8Array of expert indexes 0..3
 * ```
 */
export function mosaAssignment(count: number, parts: number, seed: number): Uint8Array {
  if (parts < 1 || parts > 255) throw new RangeError(`MoSA parts must lie in 1..255, got ${parts}`);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const random = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  const assignment = new Uint8Array(count);
  for (let i = 0; i < count; i++) assignment[order[i]!] = i % parts;
  return assignment;
}

/**
 * The experts drawn in block `block` for forward pass `pass` of step `step`, down and up drawn
 * independently and uniformly; a pure function of its arguments.
 *
 * @example
 * ```ts
 * const { down, up } = mosaDraw(4, { seed: 1, step: 10, block: 2, pass: 0 });
 * ```
 */
export function mosaDraw(
  parts: number,
  at: { seed: number; step: number; block: number; pass: number },
): Record<AdapterProjection, number> {
  const random = mulberry32(mixSeed(mixSeed(mixSeed(at.seed, at.step), at.block), at.pass));
  const down = Math.floor(random() * parts);
  const up = Math.floor(random() * parts);
  return { down, up };
}

/** One split weight: where it lives and its shape. */
export interface MosaSplitWeight {
  block: number;
  projection: AdapterProjection;
  /** The weight's shape (every copy has it). */
  shape: readonly number[];
}

/**
 * The fixed expert masks of a run's split weights, and the per-step update rules built from
 * them. The masks belong to this object: callers must not dispose them.
 *
 * @example
 * ```ts ignore
 * const experts = new MosaExperts(splitWeights, 4, seed);
 * const masks = experts.updateMasks(step, 2, nameOf); // expert name -> mask, or null
 * experts.dispose();
 * ```
 */
export class MosaExperts {
  readonly parts: number;
  readonly seed: number;
  readonly #weights: MosaSplitWeight[];
  readonly #assignments = new Map<string, Uint8Array>();
  readonly #masks = new Map<string, Tensor[]>();

  constructor(weights: readonly MosaSplitWeight[], parts: number, seed: number) {
    this.parts = parts;
    this.seed = seed;
    this.#weights = [...weights];
    for (const weight of weights) {
      const key = splitKey(weight.block, weight.projection);
      const count = numel(weight.shape);
      const assignment = mosaAssignment(count, parts, tensorSeed(seed, `mosa:${key}`));
      this.#assignments.set(key, assignment);
      const masks: Tensor[] = [];
      for (let part = 0; part < parts; part++) {
        const values = new Float32Array(count);
        for (let i = 0; i < count; i++) values[i] = assignment[i] === part ? 1 : 0;
        masks.push(tf.tensor(values, [...weight.shape], "float32"));
      }
      this.#masks.set(key, masks);
    }
  }

  /** The expert owning every entry of `block`'s split `projection` weight, row-major. */
  assignment(block: number, projection: AdapterProjection): Uint8Array {
    const assignment = this.#assignments.get(splitKey(block, projection));
    if (!assignment) throw new Error(`MoSA does not split block ${block}'s ${projection} weight`);
    return assignment;
  }

  /** The experts drawn in `block` at `at`. */
  draw(block: number, at: TrainingPass): Record<AdapterProjection, number> {
    return mosaDraw(this.parts, { seed: this.seed, block, ...at });
  }

  /**
   * The update rules of step `step` after `passes` forward passes, for the tensors that
   * `nameOf(block, projection, expert, tensor)` names: a drawn expert's weight learns through its
   * mask (a new tensor the caller disposes) and its bias learns whole (absent from the map); an
   * expert no pass drew maps to null (not updated at all, its optimiser state kept).
   */
  updateMasks(
    step: number,
    passes: number,
    nameOf: (
      block: number,
      projection: AdapterProjection,
      expert: number,
      tensor: "weight" | "bias",
    ) => string,
  ): Map<string, Tensor | null> {
    const result = new Map<string, Tensor | null>();
    for (const { block, projection } of this.#weights) {
      const drawn = new Set<number>();
      for (let pass = 0; pass < passes; pass++) {
        drawn.add(this.draw(block, { step, pass })[projection]);
      }
      const masks = this.#masks.get(splitKey(block, projection))!;
      for (let expert = 0; expert < this.parts; expert++) {
        if (drawn.has(expert)) {
          result.set(nameOf(block, projection, expert, "weight"), tf.clone(masks[expert]!));
        } else {
          result.set(nameOf(block, projection, expert, "weight"), null);
          result.set(nameOf(block, projection, expert, "bias"), null);
        }
      }
    }
    return result;
  }

  /** Frees the masks. */
  dispose(): void {
    for (const masks of this.#masks.values()) tf.dispose(masks);
    this.#masks.clear();
  }
}

function splitKey(block: number, projection: AdapterProjection): string {
  return `encoder.blocks.${block}.adapter.${projection}.weight`;
}

/** What `peft.json` records of how a MoSA run was trained (absent for older runs). */
export interface MosaTrainingRules {
  /** The rules: K expert copies, drawn per step, block and pass, merged by their mean. */
  rules: "experts-drawn-per-step-merged-by-mean";
  /** K: copies of each split projection. */
  experts: number;
  /** The projection kept dense and shared by all experts (`none`: both split). */
  share: MosaShare;
  /** The projections split into experts. */
  split: AdapterProjection[];
  /** Weight W of the two-pass symmetric-KL consistency term (0: one pass per step). */
  consistency: number;
}

/**
 * The MoSA training rules of `config`, or undefined when it trains no MoSA adapter.
 *
 * @example
 * ```ts
 * import { validatePeftConfig } from "./config.ts";
 * mosaTrainingRules(validatePeftConfig({ method: "mosa" }))?.split; // ["up"]
 * ```
 */
export function mosaTrainingRules(
  config: Pick<
    PeftConfig,
    "method" | "adapterKind" | "mosaParts" | "mosaShare" | "mosaConsistency"
  >,
): MosaTrainingRules | undefined {
  if (config.adapterKind !== "mosa" || !methodSpec(config.method).modules.includes("adapter")) {
    return undefined;
  }
  return {
    rules: "experts-drawn-per-step-merged-by-mean",
    experts: config.mosaParts,
    share: config.mosaShare,
    split: mosaSplitProjections(config.mosaShare),
    consistency: config.mosaConsistency,
  };
}
