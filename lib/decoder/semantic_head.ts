/**
 * Turning SAM's promptable mask decoder into a semantic-segmentation head: one mask token and
 * hypernetwork MLP per class (SAMed's way), initialised from the pretrained ones.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import type { SamArchitecture } from "../encoder/architecture.ts";
import type { ModelWeights } from "../encoder/weights.ts";

/** The architecture of SAM with its decoder widened to `numClasses` mask tokens. */
export function semanticArchitecture(base: SamArchitecture, numClasses: number): SamArchitecture {
  return { ...base, decoder: { ...base.decoder, numMaskTokens: numClasses } };
}

/**
 * Names of the tensors the semantic head trains: every mask-decoder tensor except the IoU head
 * (unused for semantic segmentation), with one mask token row and one hypernetwork per class.
 */
export function semanticDecoderNames(architecture: SamArchitecture): string[] {
  const names: string[] = [];
  const d = architecture.decoder;
  const add = (prefix: string, ...parts: string[]) =>
    parts.forEach((p) => names.push(`${prefix}.${p}`));
  const attention = (prefix: string) => {
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
      add(prefix, `${proj}.weight`, `${proj}.bias`);
    }
  };
  const t = "mask_decoder.transformer";
  for (let layer = 0; layer < d.depth; layer++) {
    const l = `${t}.layers.${layer}`;
    attention(`${l}.self_attn`);
    add(l, "norm1.weight", "norm1.bias");
    attention(`${l}.cross_attn_token_to_image`);
    add(
      l,
      "norm2.weight",
      "norm2.bias",
      "mlp.lin1.weight",
      "mlp.lin1.bias",
      "mlp.lin2.weight",
      "mlp.lin2.bias",
    );
    add(l, "norm3.weight", "norm3.bias", "norm4.weight", "norm4.bias");
    attention(`${l}.cross_attn_image_to_token`);
  }
  attention(`${t}.final_attn_token_to_image`);
  add(t, "norm_final_attn.weight", "norm_final_attn.bias");
  add("mask_decoder", "iou_token.weight", "mask_tokens.weight");
  for (const i of [0, 1, 3]) {
    add("mask_decoder", `output_upscaling.${i}.weight`, `output_upscaling.${i}.bias`);
  }
  for (let token = 0; token < d.numMaskTokens; token++) {
    for (let layer = 0; layer < 3; layer++) {
      add(`mask_decoder.output_hypernetworks_mlps.${token}.layers.${layer}`, "weight", "bias");
    }
  }
  return names;
}

/**
 * Initial semantic-head tensors for `numClasses` classes from SAM's pretrained decoder: class c
 * takes pretrained mask token `c mod K` and its hypernetwork MLP (K = SAM's 4 mask tokens), so
 * SAM's mask knowledge carries over; every other decoder tensor is copied.
 */
export function initialSemanticDecoder(
  weights: ModelWeights,
  numClasses: number,
): Map<string, Tensor> {
  const pretrainedTokens = weights.architecture.decoder.numMaskTokens;
  const architecture = semanticArchitecture(weights.architecture, numClasses);
  const tensors = new Map<string, Tensor>();
  for (const name of semanticDecoderNames(architecture)) {
    const hyper = /^mask_decoder\.output_hypernetworks_mlps\.(\d+)\.(.*)$/.exec(name);
    if (hyper) {
      const source = Number(hyper[1]) % pretrainedTokens;
      tensors.set(
        name,
        tf.clone(weights.get(`mask_decoder.output_hypernetworks_mlps.${source}.${hyper[2]}`)),
      );
    } else if (name === "mask_decoder.mask_tokens.weight") {
      const rows = Array.from({ length: numClasses }, (_, c) => c % pretrainedTokens);
      tensors.set(name, tf.tidy(() => tf.gather(weights.get(name), rows)));
    } else {
      tensors.set(name, tf.clone(weights.get(name)));
    }
  }
  return tensors;
}
