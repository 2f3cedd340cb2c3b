import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import sharp from "sharp";
import { decodeRgb } from "../../lib/image/decode.ts";

Deno.test("decodeRgb() scales 16-bit PNG and TIFF images to 8 bits", async () => {
  const dir = await Deno.makeTempDir();
  const values = Uint16Array.from({ length: 4 * 2 * 3 }, (_, i) => i * 2000);
  for (const format of ["png", "tiff"] as const) {
    const path = `${dir}/sixteen.${format}`;
    const encoder = sharp(values, { raw: { width: 4, height: 2, channels: 3 } }).toColourspace(
      "rgb16",
    );
    await (format === "png" ? encoder.png() : encoder.tiff({ compression: "lzw" })).toFile(path);
    assertEquals((await sharp(path).metadata()).depth, "ushort");
    const image = await decodeRgb(path);
    assertEquals([image.width, image.height, image.channels], [4, 2, 3]);
    image.data.forEach((v, i) =>
      assert(Math.abs(v - values[i]! / 257) <= 1, `${format} ${i}: ${v}`)
    );
  }
});

Deno.test("decodeRgb() names a truncated JPEG", async () => {
  const dir = await Deno.makeTempDir();
  const jpeg = await sharp(new Uint8Array(64 * 64 * 3).fill(90), {
    raw: { width: 64, height: 64, channels: 3 },
  })
    .jpeg().toBuffer();
  await Deno.writeFile(`${dir}/cut.jpg`, new Uint8Array(jpeg).subarray(0, jpeg.length >> 1));
  await assertRejects(
    decodeRgb(`${dir}/cut.jpg`),
    /^Error: Cannot read image ".*cut.jpg": [^\n]+$/,
  );
});
