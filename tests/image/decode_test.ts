import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import sharp from "sharp";
import { decodeRgb, diagnoseUnreadable } from "../../lib/image/decode.ts";

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

Deno.test("decodeRgb() keeps its reason when decodes run at once (libvips shares one error buffer)", async () => {
  const dir = await Deno.makeTempDir();
  const pixels = new Uint8Array(96 * 64 * 3).map((_, i) => (i * 37) & 255);
  const jpeg = new Uint8Array(
    await sharp(pixels, { raw: { width: 96, height: 64, channels: 3 } }).jpeg().toBuffer(),
  );
  await Deno.writeFile(`${dir}/whole.jpg`, jpeg);
  await Deno.writeFile(`${dir}/cut.jpg`, jpeg.subarray(0, 400));
  const paths = Array.from({ length: 24 }, (_, i) => `${dir}/${i % 2 ? "whole" : "cut"}.jpg`);
  const outcomes = await Promise.allSettled(paths.map((path) => decodeRgb(path)));
  outcomes.forEach((outcome, i) => {
    if (i % 2) return assertEquals(outcome.status, "fulfilled");
    assert(outcome.status === "rejected");
    const message = (outcome.reason as Error).message;
    assert(!/unknown error/i.test(message), message);
    assert(/premature end of JPEG|truncated JPEG/i.test(message), message);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("diagnoseUnreadable() names truncated JPEG and PNG files from their bytes", async () => {
  const dir = await Deno.makeTempDir();
  const jpeg = new Uint8Array(
    await sharp(new Uint8Array(8 * 8 * 3), { raw: { width: 8, height: 8, channels: 3 } }).jpeg()
      .toBuffer(),
  );
  const png = new Uint8Array(
    await sharp(new Uint8Array(8 * 8 * 3), { raw: { width: 8, height: 8, channels: 3 } }).png()
      .toBuffer(),
  );
  const cases: Array<[string, Uint8Array, string]> = [
    ["cut.jpg", jpeg.subarray(0, 100), "truncated JPEG (100 bytes, no end-of-image marker)"],
    ["whole.jpg", jpeg, "corrupt JPEG data"],
    ["cut.png", png.subarray(0, 40), "truncated PNG (40 bytes, no IEND chunk)"],
    ["whole.png", png, "corrupt PNG data"],
    ["noise.bin", new Uint8Array([1, 2, 3]), "corrupt image data (the decoder gave no reason)"],
  ];
  for (const [name, bytes, reason] of cases) {
    await Deno.writeFile(`${dir}/${name}`, bytes);
    assertEquals(await diagnoseUnreadable(`${dir}/${name}`), reason);
  }
  assertEquals(await diagnoseUnreadable(`${dir}/absent.jpg`), "file not found");
  await Deno.remove(dir, { recursive: true });
});
