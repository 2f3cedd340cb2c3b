/**
 * Converting a PyTorch checkpoint (`.pth`) to safetensors, the format the rest of the project
 * loads. Keys and values are kept as they are (every tensor becomes float32).
 *
 * @module
 */
import { readPth } from "./pth.ts";
import { writeSafetensors } from "./safetensors.ts";

/** Reported once per tensor, just before it is written. */
export interface ConvertProgress {
  /** 1-based count of tensors converted so far, this one included. */
  readonly index: number;
  readonly total: number;
  readonly name: string;
  readonly shape: readonly number[];
}

/** Options of {@link convertPthToSafetensors}. */
export interface ConvertOptions {
  /** Called for every tensor as it is converted. */
  readonly onProgress?: (progress: ConvertProgress) => void;
}

/** What {@link convertPthToSafetensors} wrote. */
export interface ConvertSummary {
  /** Number of tensors written. */
  tensors: number;
  /** Total number of values (elements) over all tensors. */
  values: number;
  /** Size of the safetensors file in bytes. */
  bytes: number;
  /** The output path. */
  out: string;
}

/**
 * Converts a PyTorch ZIP checkpoint to a float32 safetensors file. Tensors are read, converted and
 * written one at a time, so memory stays bounded by the largest tensor (or the largest storage a
 * strided view covers); the output appears atomically, only once complete. Metadata
 * `{"format": "pt"}` is recorded, as Hugging Face's converters do.
 *
 * @example
 * ```ts ignore
 * const summary = await convertPthToSafetensors("sam_vit_b_01ec64.pth", "sam_vit_b.safetensors");
 * console.log(summary.tensors, summary.values); // 314 93735728
 * ```
 */
export async function convertPthToSafetensors(
  inPath: string,
  outPath: string,
  options: ConvertOptions = {},
): Promise<ConvertSummary> {
  await rejectSameFile(inPath, outPath);
  const checkpoint = await readPth(inPath);
  try {
    const names = checkpoint.names;
    // Counted as tensors are written: the writer visits them in sorted order, not file order.
    let converted = 0;
    const tensors = names.map((name) => {
      const { shape } = checkpoint.info(name);
      return {
        name,
        shape,
        data: async () => {
          converted += 1;
          options.onProgress?.({ index: converted, total: names.length, name, shape });
          return await checkpoint.read(name);
        },
      };
    });
    const written = await writeSafetensors(outPath, tensors, { metadata: { format: "pt" } });
    return { ...written, out: outPath };
  } finally {
    checkpoint.close();
  }
}

/** Writing over the input would destroy it once the rename lands; refuse up front. */
async function rejectSameFile(inPath: string, outPath: string): Promise<void> {
  const realIn = await Deno.realPath(inPath).catch(() => undefined);
  const realOut = await Deno.realPath(outPath).catch(() => undefined);
  if (realIn !== undefined && realIn === realOut) {
    throw new Error(`Cannot convert "${inPath}": the output is the input file`);
  }
}
