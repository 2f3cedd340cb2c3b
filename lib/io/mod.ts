/**
 * Checkpoint input and output: safetensors files (read by offset, written atomically), PyTorch
 * `.pth` checkpoints (ZIP + data-only pickle), and the conversion from one to the other.
 *
 * @example
 * ```ts ignore
 * import { convertPthToSafetensors, openSafetensors } from "./lib/io/mod.ts";
 * await convertPthToSafetensors("sam_vit_b_01ec64.pth", "sam_vit_b.safetensors");
 * const file = await openSafetensors("sam_vit_b.safetensors");
 * const qkv = await file.read("image_encoder.blocks.0.attn.qkv.weight");
 * file.close();
 * ```
 *
 * @module
 */
export * from "./atomic_write.ts";
export * from "./convert.ts";
export * from "./dtype.ts";
export * from "./pickle.ts";
export * from "./pth.ts";
export * from "./random_access_file.ts";
export * from "./safetensors.ts";
export * from "./zip.ts";
