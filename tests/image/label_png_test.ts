import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import sharp from "sharp";
import { decodeLabelPng, encodeLabelPng, readLabelPng } from "../../lib/image/label_png.ts";

const VALUES = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 256);

Deno.test("encodeLabelPng() and decodeLabelPng() round-trip grey and palette labels", async () => {
  const grey = await decodeLabelPng(await encodeLabelPng(VALUES, { width: 7, height: 5 }));
  assertEquals(grey, { data: VALUES, width: 7, height: 5, channels: 1 });
  const palette = new Uint8Array(256 * 3).map((_, i) => 255 - (i % 256));
  const indexed = await encodeLabelPng(VALUES, { width: 7, height: 5, palette });
  assertEquals((await decodeLabelPng(indexed)).data, VALUES);
});

Deno.test("decodeLabelPng() reads PNGs written by libvips (filtered rows) and palette indices", async () => {
  const dir = await Deno.makeTempDir();
  const values = Uint8Array.from(
    { length: 64 * 48 },
    (_, i) => (i % 64 < 32 ? 1 : 2) + (i > 1500 ? 1 : 0),
  );
  await sharp(values, { raw: { width: 64, height: 48, channels: 1 } }).toColourspace("b-w").png({
    adaptiveFiltering: true,
  })
    .toFile(`${dir}/grey.png`);
  assertEquals((await readLabelPng(`${dir}/grey.png`)).data, values);
  // A 4-bit palette PNG: libvips quantises to a palette whose indices we read, not the colours.
  const rgb = new Uint8Array(64 * 48 * 3);
  values.forEach((v, i) =>
    rgb.set(v === 1 ? [255, 0, 0] : v === 2 ? [0, 255, 0] : [0, 0, 255], i * 3)
  );
  await sharp(rgb, { raw: { width: 64, height: 48, channels: 3 } }).png({
    palette: true,
    colours: 4,
  })
    .toFile(`${dir}/palette.png`);
  const indices = (await readLabelPng(`${dir}/palette.png`)).data;
  assertEquals(new Set(indices).size, 3);
  // Same colour, same index.
  values.forEach((v, i) => {
    if (v === values[0]) assertEquals(indices[i], indices[0]);
  });
});

Deno.test("readLabelPng() names the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  await sharp(new Uint8Array(12), { raw: { width: 2, height: 2, channels: 3 } }).png().toFile(
    `${dir}/rgb.png`,
  );
  await assertRejects(readLabelPng(`${dir}/rgb.png`), {
    message:
      `Cannot read label "${dir}/rgb.png": label PNG is RGB, expected a single-channel grey or palette PNG`,
  });
  await sharp(new Uint16Array(4), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace(
    "grey16",
  ).png()
    .toFile(`${dir}/sixteen.png`);
  await assertRejects(readLabelPng(`${dir}/sixteen.png`), {
    message: `Cannot read label "${dir}/sixteen.png": label PNG has 16 bits per pixel, expected 8`,
  });
  const png = await encodeLabelPng(VALUES, { width: 7, height: 5 });
  await Deno.writeFile(`${dir}/cut.png`, png.subarray(0, 40));
  await assertRejects(
    readLabelPng(`${dir}/cut.png`),
    /^Error: Cannot read label ".*cut.png": truncated PNG/,
  );
  await Deno.writeTextFile(`${dir}/text.png`, "hello");
  await assertRejects(readLabelPng(`${dir}/text.png`), {
    message: `Cannot read label "${dir}/text.png": not a PNG file`,
  });
  await assertRejects(readLabelPng(`${dir}/none.png`), {
    message: `Cannot read label "${dir}/none.png": file not found`,
  });
});
