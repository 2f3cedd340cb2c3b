/**
 * The names and shapes of every tensor a run trains or stores, derived from the registry: the one
 * description shared by the model, the parameter count and the run files.
 *
 * Names: `encoder.blocks.<i>.lora.{query_a,query_b,value_a,value_b}`,
 * `encoder.blocks.<i>.prefix.{keys,values}` (inference) or `.prefix.embedding` (training) with
 * the shared `encoder.prefix_reparam.{0,2}.{weight,bias}`, the same under `vpt` / `vpt_reparam`
 * for block 0 in shallow VPT, `encoder.blocks.<i>.adapter.{down,up}.{weight,bias}` (with MoSA,
 * a split projection is trained as `adapter.<down|up>.experts.<k>.{weight,bias}` and stored
 * under the plain names),
 * `encoder.blocks.<i>.gate.<module>.{weight,bias}`, the semantic decoder under its official
 * `mask_decoder.*` names, and for full fine-tuning every `image_encoder.*` tensor.
 *
 * @module
 */
import { type HeadConfig, headDecoderShapes, SEMANTIC_HEAD } from "../decoder/head.ts";
import { expectedShapes, type SamArchitecture } from "../encoder/architecture.ts";
import { gateShapes } from "./gate.ts";
import { ADAPTER_TENSOR_NAMES, adapterShapes } from "./adapter.ts";
import type { PeftConfig } from "./config.ts";
import { LORA_TENSOR_NAMES, loraShapes } from "./lora.ts";
import { mosaExpertLocal, mosaSplitProjections } from "./mosa.ts";
import { PREFIX_REPARAM_NAMES, prefixBlockIndexes, prefixReparamShapes } from "./prefix.ts";
import { methodSpec, type ModuleKind } from "./registry.ts";
import { vptBlockIndexes } from "./vpt.ts";

/** What a tensor is counted as. */
export type ParameterGroup =
  | ModuleKind
  | "mosaExperts"
  | "gates"
  | "decoder"
  | "prefixReparam"
  | "encoder";

/**
 * When a tensor exists: `both` (trained and stored), `training` (the prefix reparameterisation
 * and MoSA's expert copies: trained, then dropped), `inference` (flat prefixes, MoSA's merged
 * projections: computed from the training form at export).
 */
export type TensorForm = "both" | "training" | "inference";

/** One tensor of a run. */
export interface PeftTensorSpec {
  name: string;
  shape: number[];
  group: ParameterGroup;
  form: TensorForm;
  /** The encoder block it belongs to, if any. */
  block?: number;
  /** For block modules: which module and its local tensor name (`lora`, `query_a`). */
  module?: { kind: ModuleKind | "gate"; local: string };
}

/**
 * The blocks that carry `kind`.
 *
 * @example
 * ```ts
 * moduleBlocks("vpt", 12); // [0]
 * ```
 */
export function moduleBlocks(kind: ModuleKind, depth: number): number[] {
  if (kind === "prefix") return prefixBlockIndexes(depth);
  if (kind === "vpt") return vptBlockIndexes(depth);
  return Array.from({ length: depth }, (_, block) => block);
}

/** The name prefix of module `kind` in block `block` (`encoder.blocks.3.lora`). */
export function moduleName(block: number, kind: ModuleKind): string {
  return `encoder.blocks.${block}.${kind}`;
}

/** The name prefix of the gate of module `kind` in block `block`. */
export function gateName(block: number, kind: ModuleKind): string {
  return `encoder.blocks.${block}.gate.${kind}`;
}

/** The name prefix of the prefix reparameterisation MLP shared by `kind`'s blocks. */
export function reparamName(kind: "prefix" | "vpt"): string {
  return `encoder.${kind}_reparam`;
}

/**
 * Every tensor of a run of `config` on a SAM of `architecture` with `numClasses` classes and
 * `head` (the semantic one by default), in a stable order: encoder (full only), PEFT modules block by block, gates, reparameterisation,
 * decoder.
 *
 * @example
 * ```ts ignore
 * const specs = peftTensorLayout(arch, validatePeftConfig({ method: "lora" }), 3);
 * ```
 */
export function peftTensorLayout(
  architecture: SamArchitecture,
  config: PeftConfig,
  numClasses: number,
  head: HeadConfig = SEMANTIC_HEAD,
): PeftTensorSpec[] {
  const spec = methodSpec(config.method);
  const { embedDim: width, depth } = architecture.encoder;
  const specs: PeftTensorSpec[] = [];
  const base = expectedShapes(architecture);
  if (spec.trainsEncoder) {
    for (const [name, shape] of base) {
      if (name.startsWith("image_encoder.")) {
        specs.push({ name, shape, group: "encoder", form: "both" });
      }
    }
  }
  for (let block = 0; block < depth; block++) {
    for (const kind of spec.modules) {
      if (!moduleBlocks(kind, depth).includes(block)) continue;
      const prefix = moduleName(block, kind);
      const add = (local: string, shape: number[], form: TensorForm) =>
        specs.push({
          name: `${prefix}.${local}`,
          shape,
          group: kind,
          form,
          block,
          module: { kind, local },
        });
      if (kind === "lora") {
        const shapes = loraShapes(width, config);
        for (const local of LORA_TENSOR_NAMES) add(local, shapes[local], "both");
      } else if (kind === "adapter") {
        const shapes = adapterShapes(width, config);
        const split = config.adapterKind === "mosa" ? mosaSplitProjections(config.mosaShare) : [];
        for (const local of ADAPTER_TENSOR_NAMES) {
          const projection = local.startsWith("down") ? "down" : "up";
          if (!split.includes(projection)) {
            add(local, shapes[local], "both");
            continue;
          }
          add(local, shapes[local], "inference");
          const tensor = local.endsWith("weight") ? "weight" : "bias";
          for (let expert = 0; expert < config.mosaParts; expert++) {
            const expertLocal = mosaExpertLocal(projection, expert, tensor);
            specs.push({
              name: `${prefix}.${expertLocal}`,
              shape: [...shapes[local]],
              group: "mosaExperts",
              form: "training",
              block,
              module: { kind, local: expertLocal },
            });
          }
        }
      } else {
        const shape = [config.prefixLength, width];
        add("embedding", shape, "training");
        add("keys", [...shape], "inference");
        add("values", [...shape], "inference");
      }
    }
    if (spec.gated) {
      for (const kind of spec.modules) {
        if (!moduleBlocks(kind, depth).includes(block)) continue;
        const shapes = gateShapes(width);
        for (const local of ["weight", "bias"] as const) {
          specs.push({
            name: `${gateName(block, kind)}.${local}`,
            shape: shapes[local],
            group: "gates",
            form: "both",
            block,
            module: { kind: "gate", local: `${kind}.${local}` },
          });
        }
      }
    }
  }
  for (const kind of spec.modules) {
    if (kind !== "prefix" && kind !== "vpt") continue;
    const shapes = prefixReparamShapes(width, config);
    for (const local of PREFIX_REPARAM_NAMES) {
      specs.push({
        name: `${reparamName(kind)}.${local}`,
        shape: shapes[local],
        group: "prefixReparam",
        form: "training",
      });
    }
  }
  for (const [name, shape] of headDecoderShapes(architecture, head, numClasses)) {
    specs.push({ name, shape, group: "decoder", form: "both" });
  }
  return specs;
}
