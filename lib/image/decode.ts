/**
 * Decoding image files to raw pixels, through sharp (libvips).
 *
 * @module
 */
import sharp from "sharp";

/** An 8-bit image held in memory, pixels interleaved row-major: `[height, width, channels]`. */
export interface RasterImage {
  /** Pixel values, `height * width * channels` bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  /** 3 for RGB images, 1 for label maps. */
  channels: number;
}

/**
 * Reads an image file (JPEG, PNG, TIFF, WebP) as 8-bit RGB. Grey images are expanded to three
 * channels, an alpha channel is dropped, 16-bit images are scaled to 8 bits.
 *
 * @example
 * ```ts ignore
 * const image = await decodeRgb("photo.jpg");
 * console.log(image.width, image.height); // 640 480
 * ```
 */
export async function decodeRgb(path: string): Promise<RasterImage> {
  let reason = "";
  // libvips keeps one error buffer for all its threads, and a concurrent decode can clear it
  // before sharp reads it: the failure then reads "Unknown error". Decoding is deterministic,
  // so a second try either succeeds or fails again, usually with its reason this time.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await decodeRgbOnce(path);
    } catch (error) {
      reason = describeSharpError(error);
      if (!isLostReason(reason)) break;
    }
  }
  if (isLostReason(reason)) reason = await diagnoseUnreadable(path);
  throw new Error(`Cannot read image "${path}": ${reason}`);
}

async function decodeRgbOnce(path: string): Promise<RasterImage> {
  return rasterOf(
    await sharp(path, { failOn: "error" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true }),
  );
}

/** sharp's raw output (`toBuffer({ resolveWithObject: true })`) as a {@link RasterImage}. */
export function rasterOf(
  { data, info }: { data: Uint8Array; info: { width: number; height: number; channels: number } },
): RasterImage {
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels,
  };
}

/** Turns sharp's multi-line libvips messages into one readable line. */
export function describeSharpError(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  if (/no such file|Input file is missing/i.test(raw)) return "file not found";
  if (/unsupported image format/i.test(raw)) return "not an image in a supported format";
  return raw.split("\n")[0]!.trim();
}

function isLostReason(reason: string): boolean {
  return reason === "" || /^unknown error$/i.test(reason);
}

/**
 * Names what is wrong with a file that libvips rejected without a reason, from its own bytes: a
 * JPEG without its end-of-image marker or a PNG without its IEND chunk is truncated.
 */
export async function diagnoseUnreadable(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return "file not found";
  }
  const n = bytes.length;
  if (n >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    const ended = n >= 4 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9;
    return ended ? "corrupt JPEG data" : `truncated JPEG (${n} bytes, no end-of-image marker)`;
  }
  const pngSignature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (n >= 8 && pngSignature.every((byte, i) => bytes[i] === byte)) {
    const iend = new TextDecoder().decode(bytes.subarray(Math.max(0, n - 12), n - 4));
    return iend.endsWith("IEND") ? "corrupt PNG data" : `truncated PNG (${n} bytes, no IEND chunk)`;
  }
  return "corrupt image data (the decoder gave no reason)";
}
