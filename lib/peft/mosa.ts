/**
 * MoSA (Mixture of Sparse Adapters): every adapter tensor's entries are split into K disjoint
 * random parts that together cover it. Each training step activates one part per block, drawn
 * independently for the down- and the up-projection, and only the active part's entries learn
 * (the trainer multiplies gradients and optimizer updates by 0/1 masks). Because the parts are
 * disjoint entries of the same tensors, merging them after training is the identity: the trained
 * tensors are a plain adapter, exported and run as one.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { mixSeed, mulberry32 } from "../data/prng.ts";
import { numel, tensorSeed } from "./_init.ts";

/** One adapter tensor trained with MoSA. */
export interface MosaTensor {
  /** The variable's name (`encoder.blocks.3.adapter.down.weight`). */
  name: string;
  shape: readonly number[];
  /** The block it belongs to (parts are drawn per block). */
  block: number;
  /** Which projection: the down and up parts are drawn independently. */
  projection: "down" | "up";
}

/**
 * Assigns each of `count` entries to one of `parts` parts: a seeded shuffle dealt round-robin,
 * so the parts are disjoint, cover every entry, and differ in size by at most one.
 *
 * @example
 * ```ts
 * const parts = mosaAssignment(10, 4, 1); // Uint8Array of part indexes 0..3
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
 * The parts active at training step `step` in block `block`, down and up drawn independently;
 * a pure function of `(seed, step, block)` so that a resumed run draws the same parts.
 *
 * @example
 * ```ts
 * const { down, up } = mosaActiveParts(4, { step: 10, block: 2, seed: 1 });
 * ```
 */
export function mosaActiveParts(
  parts: number,
  at: { step: number; block: number; seed: number },
): { down: number; up: number } {
  const random = mulberry32(mixSeed(mixSeed(at.seed, at.step), at.block));
  const down = Math.floor(random() * parts);
  const up = Math.floor(random() * parts);
  return { down, up };
}

/**
 * The 0/1 masks of a set of MoSA-trained adapter tensors, built once (K per tensor) and reused
 * every step. The masks belong to this object: callers must not dispose them.
 *
 * @example
 * ```ts ignore
 * const masks = new MosaMasks(adapterTensors, 4, seed);
 * for (const [name, mask] of masks.forStep(step)) { ... grad * mask ... }
 * masks.dispose();
 * ```
 */
export class MosaMasks {
  readonly parts: number;
  readonly #seed: number;
  readonly #tensors: MosaTensor[];
  readonly #assignments = new Map<string, Uint8Array>();
  readonly #masks = new Map<string, Tensor[]>();

  constructor(tensors: readonly MosaTensor[], parts: number, seed: number) {
    this.parts = parts;
    this.#seed = seed;
    this.#tensors = [...tensors];
    for (const tensor of tensors) {
      const count = numel(tensor.shape);
      const assignment = mosaAssignment(count, parts, tensorSeed(seed, `mosa:${tensor.name}`));
      this.#assignments.set(tensor.name, assignment);
      const masks: Tensor[] = [];
      for (let part = 0; part < parts; part++) {
        const values = new Float32Array(count);
        for (let i = 0; i < count; i++) values[i] = assignment[i] === part ? 1 : 0;
        masks.push(tf.tensor(values, [...tensor.shape], "float32"));
      }
      this.#masks.set(tensor.name, masks);
    }
  }

  /** The part of every entry of tensor `name`, row-major. */
  assignment(name: string): Uint8Array {
    const assignment = this.#assignments.get(name);
    if (!assignment) throw new Error(`MoSA has no tensor "${name}"`);
    return assignment;
  }

  /** The parts active at `step` in `block`. */
  activeParts(step: number, block: number): { down: number; up: number } {
    return mosaActiveParts(this.parts, { step, block, seed: this.#seed });
  }

  /** Variable name → 0/1 mask of the entries that learn at `step` (owned by this object). */
  forStep(step: number): Map<string, Tensor> {
    const result = new Map<string, Tensor>();
    for (const tensor of this.#tensors) {
      const active = this.activeParts(step, tensor.block)[tensor.projection];
      result.set(tensor.name, this.#masks.get(tensor.name)![active]!);
    }
    return result;
  }

  /** Frees the masks. */
  dispose(): void {
    for (const masks of this.#masks.values()) tf.dispose(masks);
    this.#masks.clear();
  }
}
