/**
 * Folding a run into SAM's own weights where that is exact: ungated LoRA becomes a change of
 * each block's fused qkv weight. Everything else is refused with the reason.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import type { PeftConfig } from "./config.ts";
import { moduleName } from "./layout.ts";
import { LORA_TENSOR_NAMES, loraScale, type LoraTensors, mergeLora } from "./lora.ts";
import { methodSpec, type ModuleKind } from "./registry.ts";

/** Whether a method merges into SAM, and if not, why. */
export type Mergeability = { mergeable: true } | { mergeable: false; reason: string };

const WHY_NOT: Record<ModuleKind, string> = {
  lora: "",
  prefix: "prefixes are extra key/value tokens in attention, not a change of SAM's weights",
  vpt: "VPT's prefixes are extra key/value tokens in attention, not a change of SAM's weights",
  adapter: "adapters are extra layers after each block's MLP, not a change of SAM's weights",
};

/**
 * Tells whether runs of `config` fold exactly into SAM's weights (only ungated LoRA does).
 *
 * @example
 * ```ts
 * import { validatePeftConfig } from "./config.ts";
 * mergeability(validatePeftConfig({ method: "mopeft" })).mergeable; // false
 * ```
 */
export function mergeability(config: PeftConfig): Mergeability {
  const spec = methodSpec(config.method);
  if (config.method === "mosa") {
    return {
      mergeable: false,
      reason: "MoSA's expert copies are merged into one plain adapter when the run is exported; " +
        WHY_NOT.adapter,
    };
  }
  if (spec.trainsEncoder) {
    return { mergeable: false, reason: "full fine-tuning already stores the whole image encoder" };
  }
  if (spec.modules.length === 0) {
    return { mergeable: false, reason: `method "${config.method}" adds nothing to the encoder` };
  }
  if (spec.gated) {
    return {
      mergeable: false,
      reason: "gated LoRA's scale is a gate computed from each image, so it cannot be folded " +
        "into fixed weights (and the gated prefixes and adapters are extra layers)",
    };
  }
  const blocker = spec.modules.find((kind) => kind !== "lora");
  if (blocker) return { mergeable: false, reason: WHY_NOT[blocker] };
  return { mergeable: true };
}

/**
 * The SAM tensors that change when `peft` (a run's tensors by name, inference form) is folded into
 * `base`: `image_encoder.blocks.<i>.attn.qkv.weight` with `s · B A` added to its q and v rows.
 * The returned tensors are new and belong to the caller; every other SAM tensor is unchanged
 * (layer them over the base with `LayeredWeights`, or write them out with the rest).
 * Throws an `Error` with the reason when the method does not merge.
 *
 * @example
 * ```ts ignore
 * const merged = mergeIntoSam(sam, config, await model.exportTensors());
 * const plain = new LayeredWeights(sam, merged);
 * ```
 */
export function mergeIntoSam(
  base: ModelWeights,
  config: PeftConfig,
  peft: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array } | Tensor>,
): Map<string, Tensor> {
  const check = mergeability(config);
  if (!check.mergeable) {
    throw new Error(`Cannot merge method "${config.method}" into SAM: ${check.reason}`);
  }
  const scale = loraScale(config);
  const merged = new Map<string, Tensor>();
  try {
    mergeBlocks(base, peft, scale, merged);
  } catch (error) {
    tf.dispose([...merged.values()]);
    throw error;
  }
  return merged;
}

function mergeBlocks(
  base: ModelWeights,
  peft: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array } | Tensor>,
  scale: number,
  merged: Map<string, Tensor>,
): void {
  for (let block = 0; block < base.architecture.encoder.depth; block++) {
    const name = `image_encoder.blocks.${block}.attn.qkv.weight`;
    merged.set(
      name,
      tf.tidy(() => {
        const lora = Object.fromEntries(LORA_TENSOR_NAMES.map((local) => {
          const full = `${moduleName(block, "lora")}.${local}`;
          const value = peft.get(full);
          if (!value) throw new Error(`Cannot merge: the run has no tensor "${full}"`);
          return [
            local,
            value instanceof tf.Tensor ? value : tf.tensor(value.data, [...value.shape]),
          ];
        })) as LoraTensors;
        return mergeLora(base.get(name), lora, scale);
      }),
    );
  }
}
