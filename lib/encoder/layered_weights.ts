/**
 * A view of SAM's weights with some tensors replaced, without copying the rest.
 *
 * @module
 */
import type { Tensor } from "../backend/tf.ts";
import type { SamArchitecture } from "./architecture.ts";
import type { ModelWeights } from "./weights.ts";

/**
 * Reads from `overrides` first, then from `base`. Used for the trained semantic decoder and for
 * full fine-tuning, where some of SAM's tensors become variables. `architecture` may differ from
 * the base's (the semantic head has one mask token per class).
 */
export class LayeredWeights implements ModelWeights {
  readonly architecture: SamArchitecture;
  readonly #base: ModelWeights;
  readonly #overrides: ReadonlyMap<string, Tensor>;

  constructor(
    base: ModelWeights,
    overrides: ReadonlyMap<string, Tensor>,
    architecture: SamArchitecture = base.architecture,
  ) {
    this.#base = base;
    this.#overrides = overrides;
    this.architecture = architecture;
  }

  get(name: string): Tensor {
    return this.#overrides.get(name) ?? this.#base.get(name);
  }
}
