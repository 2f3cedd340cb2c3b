import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import { pairImagesWithLabels, stemOf } from "../../lib/data/pairing.ts";

async function folderWith(files: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const file of files) await Deno.writeFile(`${dir}/${file}`, new Uint8Array(0));
  return dir;
}

Deno.test("pairImagesWithLabels() pairs by stem minus each side's suffix, sorted", async () => {
  const images = await folderWith(["b_rgb_anon.png", "a_rgb_anon.png", "c_rgb_anon.png", "x.txt"]);
  const labels = await folderWith(["a_gt_labelIds.png", "b_gt_labelIds.png", "d_gt_labelIds.png"]);
  const result = await pairImagesWithLabels(images, labels, {
    imageSuffix: "_rgb_anon.png",
    labelSuffix: "_gt_labelIds.png",
  });
  assertEquals(result.pairs.map((p) => [p.stem, p.imagePath, p.labelPath]), [
    ["a", `${images}/a_rgb_anon.png`, `${labels}/a_gt_labelIds.png`],
    ["b", `${images}/b_rgb_anon.png`, `${labels}/b_gt_labelIds.png`],
  ]);
  assertEquals(result.imagesWithoutLabel, [`${images}/c_rgb_anon.png`]);
  assertEquals(result.labelsWithoutImage, [`${labels}/d_gt_labelIds.png`]);
});

Deno.test("pairImagesWithLabels() handles CWFID's suffixes and lists of suffixes", async () => {
  const images = await folderWith(["001_image.png", "002_image.png"]);
  const labels = await folderWith(["001_annotation.png", "002_annotation.png"]);
  const cwfid = await pairImagesWithLabels(images, labels, {
    imageSuffix: "image.png",
    labelSuffix: "annotation.png",
  });
  assertEquals(cwfid.pairs.map((p) => p.stem), ["001_", "002_"]);
  const mixed = await folderWith(["a.jpg", "b.PNG", "c.tif"]);
  const mixedLabels = await folderWith(["a.png", "b.png", "c.png"]);
  const user = await pairImagesWithLabels(mixed, mixedLabels, {
    imageSuffix: [".jpg", ".PNG", ".tif"],
    labelSuffix: ".png",
  });
  assertEquals(user.pairs.map((p) => p.stem), ["a", "b", "c"]);
});

Deno.test("pairImagesWithLabels() refuses two images with one stem, and missing folders", async () => {
  const images = await folderWith(["a.jpg", "a.png"]);
  const labels = await folderWith(["a.png"]);
  await assertRejects(
    pairImagesWithLabels(images, labels, { imageSuffix: [".jpg", ".png"], labelSuffix: ".png" }),
    { message: `Cannot pair "${images}/a.png": "${images}/a.jpg" has the same stem "a"` },
  );
  await assertRejects(
    pairImagesWithLabels(`${images}/nope`, labels, { imageSuffix: ".jpg", labelSuffix: ".png" }),
    { message: `Cannot read folder "${images}/nope": not found` },
  );
});

Deno.test("stemOf() cuts the first matching suffix", () => {
  assertEquals(stemOf("a.jpg", ".jpg"), "a");
  assertEquals(stemOf("a.jpeg", ".jpg"), null);
  assertEquals(stemOf(".png", ".png"), null);
});
