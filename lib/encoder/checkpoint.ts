/**
 * Loading SAM checkpoints from safetensors files.
 *
 * @module
 */
import { openSafetensors } from "../io/safetensors.ts";
import { loadSamWeights, type SamWeights } from "./weights.ts";

/**
 * Loads and checks a SAM checkpoint stored as safetensors (official key names and layout; use
 * `mopeft convert` for the released `.pth` files). Tensors are read one at a time by offset.
 *
 * @example
 * ```ts ignore
 * const weights = await loadCheckpoint("sam_vit_b.safetensors");
 * weights.architecture.encoder.embedDim; // 768
 * ```
 */
export async function loadCheckpoint(path: string): Promise<SamWeights> {
  if (/\.(pth|pt|bin)$/i.test(path)) {
    throw new Error(
      `Cannot load checkpoint "${path}": PyTorch files are read by "mopeft convert ${path} OUT.safetensors" first`,
    );
  }
  const file = await openSafetensors(path);
  try {
    const shapes = new Map(file.names.map((name) => [name, file.info(name).shape]));
    return await loadSamWeights({ shapes: () => shapes, read: (name) => file.read(name) }, path);
  } finally {
    file.close();
  }
}
