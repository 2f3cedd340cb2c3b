/**
 * SAM's architecture, read off a checkpoint's tensor shapes, and the full list of tensors that
 * architecture needs.
 *
 * @module
 */

/** Image-encoder (ViT) hyperparameters. */
export interface EncoderArchitecture {
  /** Input side S in pixels (1024 for the released models). */
  imageSize: number;
  /** Patch side in pixels (16). */
  patchSize: number;
  /** Tokens per side, S / patchSize (64 for the released models). */
  gridSize: number;
  /** Token width D (768 for vit_b). */
  embedDim: number;
  /** Number of transformer blocks (12 for vit_b). */
  depth: number;
  /** Attention heads per block (embedDim / headDim). */
  numHeads: number;
  /** Width of one attention head (64 in every released model). */
  headDim: number;
  /** Hidden width of each block's MLP (4 * embedDim). */
  mlpDim: number;
  /** Per block: its window side, or 0 for a global-attention block. */
  blockWindowSizes: number[];
  /** Channels of the neck's output, the image embedding (256). */
  outChans: number;
}

/** Mask-decoder hyperparameters. */
export interface DecoderArchitecture {
  /** Token width of the two-way transformer (256; equals the encoder's outChans). */
  transformerDim: number;
  /** Number of two-way attention blocks (2). */
  depth: number;
  /** Attention heads. Not recoverable from shapes: SAM always uses 8. */
  numHeads: number;
  /** Hidden width of the transformer MLPs (2048). */
  mlpDim: number;
  /** Width reduction in the cross-attentions (2). */
  attentionDownsampleRate: number;
  /** Mask tokens, each with its hypernetwork MLP (4 in SAM: 1 + 3 multimask outputs). */
  numMaskTokens: number;
  /** Hidden width of the IoU head (256). */
  iouHeadHiddenDim: number;
  /** Layers of the IoU head (3). */
  iouHeadDepth: number;
}

/** Prompt-encoder hyperparameters (only the no-prompt path runs, but every tensor is checked). */
export interface PromptArchitecture {
  /** Embedding width (equals transformerDim). */
  embedDim: number;
  /** Channels of the mask-downscaling path (16). */
  maskInChans: number;
}

/** Everything needed to build SAM from a checkpoint. */
export interface SamArchitecture {
  encoder: EncoderArchitecture;
  decoder: DecoderArchitecture;
  prompt: PromptArchitecture;
}

/** Tensor name → shape, as a checkpoint lists them. */
export type ShapeTable = ReadonlyMap<string, readonly number[]>;

const DECODER_HEADS = 8;

function need(shapes: ShapeTable, name: string, rank: number): readonly number[] {
  const shape = shapes.get(name);
  if (!shape) throw new Error(`missing tensor "${name}"`);
  if (shape.length !== rank) {
    throw new Error(`tensor "${name}" has shape [${shape}], expected ${rank} dimensions`);
  }
  return shape;
}

function countIndexed(shapes: ShapeTable, prefix: string, suffix: string): number {
  let count = 0;
  while (shapes.has(`${prefix}${count}${suffix}`)) count++;
  return count;
}

/**
 * Reads SAM's architecture off the tensor shapes of a checkpoint. Works for vit_b/l/h and for any
 * smaller model laid out the same way. Throws an `Error` naming the first tensor it cannot use.
 *
 * @example
 * ```ts ignore
 * const arch = inferArchitecture(shapes);
 * arch.encoder.embedDim; // 768 for vit_b
 * ```
 */
export function inferArchitecture(shapes: ShapeTable): SamArchitecture {
  const patch = need(shapes, "image_encoder.patch_embed.proj.weight", 4);
  const [embedDim, , patchSize] = patch as [number, number, number, number];
  const pos = need(shapes, "image_encoder.pos_embed", 4);
  const gridSize = pos[1]!;
  const depth = countIndexed(shapes, "image_encoder.blocks.", ".norm1.weight");
  if (depth === 0) throw new Error(`missing tensor "image_encoder.blocks.0.norm1.weight"`);
  const relPos0 = need(shapes, "image_encoder.blocks.0.attn.rel_pos_h", 2);
  const headDim = relPos0[1]!;
  if (embedDim % headDim !== 0) {
    throw new Error(
      `tensor "image_encoder.blocks.0.attn.rel_pos_h" has head width ${headDim}, ` +
        `which does not divide the embedding width ${embedDim}`,
    );
  }
  const blockWindowSizes: number[] = [];
  for (let block = 0; block < depth; block++) {
    const rows = need(shapes, `image_encoder.blocks.${block}.attn.rel_pos_h`, 2)[0]!;
    // A global block's table spans the whole grid (2*grid-1 rows); a windowed one spans its window.
    blockWindowSizes.push(rows === 2 * gridSize - 1 ? 0 : (rows + 1) / 2);
  }
  const mlpDim = need(shapes, "image_encoder.blocks.0.mlp.lin1.weight", 2)[0]!;
  const outChans = need(shapes, "image_encoder.neck.0.weight", 4)[0]!;

  const transformerDim = need(shapes, "mask_decoder.iou_token.weight", 2)[1]!;
  const decoderDepth = countIndexed(
    shapes,
    "mask_decoder.transformer.layers.",
    ".norm1.weight",
  );
  const crossInternal = need(
    shapes,
    "mask_decoder.transformer.final_attn_token_to_image.q_proj.weight",
    2,
  )[0]!;
  const decoderMlp = decoderDepth > 0
    ? need(shapes, "mask_decoder.transformer.layers.0.mlp.lin1.weight", 2)[0]!
    : 0;
  const numMaskTokens = need(shapes, "mask_decoder.mask_tokens.weight", 2)[0]!;
  const iouHeadHiddenDim = need(shapes, "mask_decoder.iou_prediction_head.layers.0.weight", 2)[0]!;
  const iouHeadDepth = countIndexed(shapes, "mask_decoder.iou_prediction_head.layers.", ".weight");
  const maskInChans = need(shapes, "prompt_encoder.mask_downscaling.3.weight", 4)[0]!;

  return {
    encoder: {
      imageSize: gridSize * patchSize,
      patchSize,
      gridSize,
      embedDim,
      depth,
      numHeads: embedDim / headDim,
      headDim,
      mlpDim,
      blockWindowSizes,
      outChans,
    },
    decoder: {
      transformerDim,
      depth: decoderDepth,
      numHeads: DECODER_HEADS,
      mlpDim: decoderMlp,
      attentionDownsampleRate: transformerDim / crossInternal,
      numMaskTokens,
      iouHeadHiddenDim,
      iouHeadDepth,
    },
    prompt: { embedDim: transformerDim, maskInChans },
  };
}

function linear(table: Map<string, number[]>, name: string, out: number, inp: number): void {
  table.set(`${name}.weight`, [out, inp]);
  table.set(`${name}.bias`, [out]);
}

function norm(table: Map<string, number[]>, name: string, width: number): void {
  table.set(`${name}.weight`, [width]);
  table.set(`${name}.bias`, [width]);
}

/**
 * Every tensor a SAM of architecture `arch` holds, with its shape, in the official layout
 * (`sam_vit_b_01ec64.pth` has 314: 177 encoder, 17 prompt encoder, 120 mask decoder).
 */
export function expectedShapes(arch: SamArchitecture): Map<string, number[]> {
  const table = new Map<string, number[]>();
  const e = arch.encoder;
  const p = "image_encoder";
  table.set(`${p}.patch_embed.proj.weight`, [e.embedDim, 3, e.patchSize, e.patchSize]);
  table.set(`${p}.patch_embed.proj.bias`, [e.embedDim]);
  table.set(`${p}.pos_embed`, [1, e.gridSize, e.gridSize, e.embedDim]);
  e.blockWindowSizes.forEach((window, block) => {
    const b = `${p}.blocks.${block}`;
    const span = window === 0 ? e.gridSize : window;
    norm(table, `${b}.norm1`, e.embedDim);
    linear(table, `${b}.attn.qkv`, 3 * e.embedDim, e.embedDim);
    linear(table, `${b}.attn.proj`, e.embedDim, e.embedDim);
    table.set(`${b}.attn.rel_pos_h`, [2 * span - 1, e.headDim]);
    table.set(`${b}.attn.rel_pos_w`, [2 * span - 1, e.headDim]);
    norm(table, `${b}.norm2`, e.embedDim);
    linear(table, `${b}.mlp.lin1`, e.mlpDim, e.embedDim);
    linear(table, `${b}.mlp.lin2`, e.embedDim, e.mlpDim);
  });
  table.set(`${p}.neck.0.weight`, [e.outChans, e.embedDim, 1, 1]);
  norm(table, `${p}.neck.1`, e.outChans);
  table.set(`${p}.neck.2.weight`, [e.outChans, e.outChans, 3, 3]);
  norm(table, `${p}.neck.3`, e.outChans);

  const c = arch.prompt.embedDim;
  const m = arch.prompt.maskInChans;
  const pe = "prompt_encoder";
  table.set(`${pe}.pe_layer.positional_encoding_gaussian_matrix`, [2, c / 2]);
  for (let i = 0; i < 4; i++) table.set(`${pe}.point_embeddings.${i}.weight`, [1, c]);
  table.set(`${pe}.not_a_point_embed.weight`, [1, c]);
  table.set(`${pe}.mask_downscaling.0.weight`, [m / 4, 1, 2, 2]);
  table.set(`${pe}.mask_downscaling.0.bias`, [m / 4]);
  norm(table, `${pe}.mask_downscaling.1`, m / 4);
  table.set(`${pe}.mask_downscaling.3.weight`, [m, m / 4, 2, 2]);
  table.set(`${pe}.mask_downscaling.3.bias`, [m]);
  norm(table, `${pe}.mask_downscaling.4`, m);
  table.set(`${pe}.mask_downscaling.6.weight`, [c, m, 1, 1]);
  table.set(`${pe}.mask_downscaling.6.bias`, [c]);
  table.set(`${pe}.no_mask_embed.weight`, [1, c]);

  const d = arch.decoder;
  const md = "mask_decoder";
  const t = `${md}.transformer`;
  const cross = d.transformerDim / d.attentionDownsampleRate;
  const attention = (name: string, internal: number) => {
    for (const proj of ["q_proj", "k_proj", "v_proj"]) {
      linear(table, `${name}.${proj}`, internal, d.transformerDim);
    }
    linear(table, `${name}.out_proj`, d.transformerDim, internal);
  };
  for (let layer = 0; layer < d.depth; layer++) {
    const l = `${t}.layers.${layer}`;
    attention(`${l}.self_attn`, d.transformerDim);
    norm(table, `${l}.norm1`, d.transformerDim);
    attention(`${l}.cross_attn_token_to_image`, cross);
    norm(table, `${l}.norm2`, d.transformerDim);
    linear(table, `${l}.mlp.lin1`, d.mlpDim, d.transformerDim);
    linear(table, `${l}.mlp.lin2`, d.transformerDim, d.mlpDim);
    norm(table, `${l}.norm3`, d.transformerDim);
    norm(table, `${l}.norm4`, d.transformerDim);
    attention(`${l}.cross_attn_image_to_token`, cross);
  }
  attention(`${t}.final_attn_token_to_image`, cross);
  norm(table, `${t}.norm_final_attn`, d.transformerDim);
  table.set(`${md}.iou_token.weight`, [1, d.transformerDim]);
  table.set(`${md}.mask_tokens.weight`, [d.numMaskTokens, d.transformerDim]);
  const quarter = d.transformerDim / 4;
  const eighth = d.transformerDim / 8;
  table.set(`${md}.output_upscaling.0.weight`, [d.transformerDim, quarter, 2, 2]);
  table.set(`${md}.output_upscaling.0.bias`, [quarter]);
  norm(table, `${md}.output_upscaling.1`, quarter);
  table.set(`${md}.output_upscaling.3.weight`, [quarter, eighth, 2, 2]);
  table.set(`${md}.output_upscaling.3.bias`, [eighth]);
  for (let token = 0; token < d.numMaskTokens; token++) {
    const h = `${md}.output_hypernetworks_mlps.${token}.layers`;
    linear(table, `${h}.0`, d.transformerDim, d.transformerDim);
    linear(table, `${h}.1`, d.transformerDim, d.transformerDim);
    linear(table, `${h}.2`, eighth, d.transformerDim);
  }
  for (let layer = 0; layer < d.iouHeadDepth; layer++) {
    const out = layer === d.iouHeadDepth - 1 ? d.numMaskTokens : d.iouHeadHiddenDim;
    const inp = layer === 0 ? d.transformerDim : d.iouHeadHiddenDim;
    linear(table, `${md}.iou_prediction_head.layers.${layer}`, out, inp);
  }
  return table;
}

/**
 * Compares a checkpoint's shapes with what `arch` needs. Returns the problems in a stable order:
 * missing or mis-shaped tensors first, in the official order, then unknown tensors.
 */
export function checkShapes(shapes: ShapeTable, arch: SamArchitecture): string[] {
  const problems: string[] = [];
  const expected = expectedShapes(arch);
  for (const [name, shape] of expected) {
    const found = shapes.get(name);
    if (!found) problems.push(`missing tensor "${name}" (expected shape [${shape}])`);
    else if (found.length !== shape.length || found.some((size, i) => size !== shape[i])) {
      problems.push(`tensor "${name}" has shape [${found}], expected [${shape}]`);
    }
  }
  for (const [name, shape] of shapes) {
    if (!expected.has(name)) problems.push(`unknown tensor "${name}" with shape [${shape}]`);
  }
  return problems;
}
