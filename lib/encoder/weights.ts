/**
 * SAM's tensors held on the active backend, looked up by their official names.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { checkShapes, inferArchitecture, type SamArchitecture } from "./architecture.ts";
import { markFrozen } from "../nn/lean_ops.ts";

/** Where checkpoint tensors come from (a safetensors file, a `.pth`, memory). */
export interface TensorSource {
  /** Tensor names with their shapes. */
  shapes(): ReadonlyMap<string, readonly number[]>;
  /** The tensor's values as float32, row-major. */
  read(name: string): Promise<Float32Array>;
}

/**
 * What the model code reads its parameters from: SAM's tensors by official name, or a layered
 * view with some of them replaced (trained decoder, full fine-tuning).
 */
export interface ModelWeights {
  readonly architecture: SamArchitecture;
  /** The tensor called `name`; throws if there is none. */
  get(name: string): Tensor;
}

/**
 * SAM's parameters by official name (`image_encoder.blocks.0.attn.qkv.weight`, ...), plus the
 * architecture they describe. Methods that train part of SAM replace entries with variables.
 */
export class SamWeights implements ModelWeights {
  readonly architecture: SamArchitecture;
  readonly #tensors: Map<string, Tensor>;

  constructor(architecture: SamArchitecture, tensors: Map<string, Tensor>) {
    this.architecture = architecture;
    this.#tensors = tensors;
    // A checkpoint's own tensors never train (training layers variables over them).
    markFrozen(tensors.values());
  }

  /** The tensor called `name`; throws if the checkpoint has none. */
  get(name: string): Tensor {
    const tensor = this.#tensors.get(name);
    if (!tensor) throw new Error(`SAM weights have no tensor "${name}"`);
    return tensor;
  }

  /** True when a tensor called `name` is held. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** Replaces the tensor called `name` (for example with a trainable variable). */
  set(name: string, tensor: Tensor): void {
    this.#tensors.set(name, tensor);
  }

  /** Every name, in checkpoint order. */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** Frees every tensor held. */
  dispose(): void {
    for (const tensor of this.#tensors.values()) tensor.dispose();
    this.#tensors.clear();
  }
}

/**
 * Reads and checks a SAM checkpoint. The architecture is read off the shapes; every expected
 * tensor must be present with its expected shape and no unknown tensor may be present. A problem
 * is reported as `Cannot load checkpoint "<label>": <first problem>` (with the count of others).
 *
 * @example
 * ```ts ignore
 * const weights = await loadSamWeights(source, "sam_vit_b.safetensors");
 * weights.architecture.encoder.depth; // 12
 * ```
 */
export async function loadSamWeights(source: TensorSource, label: string): Promise<SamWeights> {
  const shapes = source.shapes();
  let architecture: SamArchitecture;
  try {
    architecture = inferArchitecture(shapes);
  } catch (error) {
    throw new Error(`Cannot load checkpoint "${label}": ${(error as Error).message}`);
  }
  const problems = checkShapes(shapes, architecture);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
    throw new Error(`Cannot load checkpoint "${label}": ${problems[0]}${more}`);
  }
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, shape] of shapes) {
      const values = await source.read(name);
      tensors.set(name, tf.tensor(values, [...shape], "float32"));
    }
  } catch (error) {
    for (const tensor of tensors.values()) tensor.dispose();
    throw error;
  }
  return new SamWeights(architecture, tensors);
}
