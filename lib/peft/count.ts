/**
 * Parameter counts of a run, as stored for inference, without allocating any tensor.
 *
 * @module
 */
import type { HeadConfig } from "../decoder/head.ts";
import { expectedShapes, type SamArchitecture } from "../encoder/architecture.ts";
import type { PeftConfig } from "./config.ts";
import { type ParameterGroup, peftTensorLayout } from "./layout.ts";
import { numel } from "../nn/init.ts";

/** What {@link countParameters} returns. */
export interface ParameterCount {
  /**
   * SAM's own parameters (every tensor of the official checkpoint: 93,735,728 for vit_b) plus the
   * PEFT parameters stored for inference (LoRA, flat prefixes, adapters, gates). The semantic
   * head's extra class tokens are not added, so the figure does not move with the class count.
   */
  totalParams: number;
  /** Everything trained, as stored for inference: PEFT modules, gates, decoder (and encoder for `full`). */
  trainableParams: number;
  /** 100 · trainableParams / totalParams. */
  trainablePercent: number;
  /** The encoder-side PEFT parameters (LoRA, prefix, VPT, adapter, gates): the thesis's figure. */
  peftParams: number;
  /** 100 · peftParams / totalParams. */
  peftPercent: number;
  /**
   * Everything training holds and updates, in its training form: MoSA's K expert copies instead
   * of the one stored projection, the prefix MLP and input embeddings instead of flat prefixes.
   */
  trainingParams: number;
  /**
   * Per group, as stored. `prefixReparam` (the training-only prefix MLP and input embeddings)
   * and `mosaExperts` (MoSA's K copies of each split projection, merged into `adapter` at export)
   * are held during training only and counted in neither stored total.
   */
  byGroup: Record<ParameterGroup, number>;
}

const PEFT_GROUPS: ParameterGroup[] = ["lora", "prefix", "vpt", "adapter", "gates"];

/**
 * Counts the parameters of a run of `config` on a SAM of `architecture` with `numClasses`
 * classes and `head` (default semantic; a detection head's queries and class MLP count as
 * decoder) (see {@link ParameterCount} for the definitions).
 *
 * @example
 * ```ts
 * import { architectureOf, VIT_B_SIZE } from "../encoder/random_checkpoint.ts";
 * import { validatePeftConfig } from "./config.ts";
 * const count = countParameters(architectureOf(VIT_B_SIZE), validatePeftConfig({ method: "lora" }), 2);
 * count.byGroup.lora; // 294912
 * ```
 */
export function countParameters(
  architecture: SamArchitecture,
  config: PeftConfig,
  numClasses: number,
  head?: HeadConfig,
): ParameterCount {
  const byGroup: Record<ParameterGroup, number> = {
    lora: 0,
    prefix: 0,
    vpt: 0,
    adapter: 0,
    mosaExperts: 0,
    gates: 0,
    decoder: 0,
    prefixReparam: 0,
    encoder: 0,
  };
  let trainingParams = 0;
  for (const spec of peftTensorLayout(architecture, config, numClasses, head)) {
    if (spec.form !== "inference") trainingParams += numel(spec.shape);
    if (
      spec.form === "inference" || spec.group === "prefixReparam" || spec.group === "mosaExperts"
    ) {
      byGroup[spec.group] += numel(spec.shape);
    } else if (spec.form === "training") {
      // A prefix's input embedding: training-only, counted with the reparameterisation.
      byGroup.prefixReparam += numel(spec.shape);
    } else {
      byGroup[spec.group] += numel(spec.shape);
    }
  }
  let samParams = 0;
  for (const shape of expectedShapes(architecture).values()) samParams += numel(shape);
  const peftParams = PEFT_GROUPS.reduce((sum, group) => sum + byGroup[group], 0);
  const totalParams = samParams + peftParams;
  const trainableParams = peftParams + byGroup.decoder + byGroup.encoder;
  return {
    totalParams,
    trainableParams,
    trainablePercent: 100 * trainableParams / totalParams,
    peftParams,
    peftPercent: 100 * peftParams / totalParams,
    trainingParams,
    byGroup,
  };
}
