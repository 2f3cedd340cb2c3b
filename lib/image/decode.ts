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
  try {
    const { data, info } = await sharp(path, { failOn: "error" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: info.channels,
    };
  } catch (error) {
    throw new Error(`Cannot read image "${path}": ${describeSharpError(error)}`);
  }
}

/** Turns sharp's multi-line libvips messages into one readable line. */
export function describeSharpError(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  if (/no such file|Input file is missing/i.test(raw)) return "file not found";
  if (/unsupported image format/i.test(raw)) return "not an image in a supported format";
  return raw.split("\n")[0]!.trim();
}
