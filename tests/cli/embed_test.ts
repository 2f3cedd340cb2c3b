import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { assertAllClose } from "../_backends.ts";
import { assertOneLineError, runCli } from "../_cli.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const checkpoint = `${fixtures}sam/tiny_b.safetensors`;
const image = `${fixtures}goldens/tiny_b_tall.png`;

Deno.test("mopeft embed writes the official image_embeddings for an image file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/embedding.safetensors`;
    const result = await runCli([
      "embed",
      "--checkpoint",
      checkpoint,
      "--image",
      image,
      "--out",
      out,
      "--backend",
      "cpu",
      "--verbose",
    ]);
    assertEquals(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assertEquals(summary.shape, [1, 64, 8, 8]);
    ok(/backend cpu/.test(result.stderr));
    const written = (await readSafetensors(out)).get("image_embeddings")!;
    const golden = (await readSafetensors(`${fixtures}goldens/tiny_b_tall.safetensors`)).get(
      "image_embeddings",
    )!;
    assertEquals(written.shape, golden.shape);
    assertAllClose(written.data, golden.data, 1e-4, "image_embeddings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mopeft embed gives one-line errors for bad input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/e.safetensors`;
    const embed = (ckpt: string, img = image, extra: string[] = []) =>
      runCli([
        "embed",
        "--checkpoint",
        ckpt,
        "--image",
        img,
        "--out",
        out,
        "--backend",
        "cpu",
        ...extra,
      ]);

    assertOneLineError(
      await embed(`${dir}/missing.safetensors`),
      1,
      /missing\.safetensors.*not found/,
    );
    assertOneLineError(
      await embed(checkpoint, `${dir}/missing.png`),
      1,
      /Cannot read image ".*missing\.png": file not found/,
    );

    const bytes = await Deno.readFile(checkpoint);
    await Deno.writeFile(`${dir}/truncated.safetensors`, bytes.slice(0, bytes.length - 100));
    assertOneLineError(await embed(`${dir}/truncated.safetensors`), 1, /truncated\.safetensors/);
    await Deno.writeFile(
      `${dir}/garbage.safetensors`,
      new TextEncoder().encode("not a checkpoint at all"),
    );
    assertOneLineError(await embed(`${dir}/garbage.safetensors`), 1, /garbage\.safetensors/);

    // A checkpoint with one tensor missing, one mis-shaped, one unknown.
    const tensors = await readSafetensors(checkpoint);
    const without = new Map(tensors);
    without.delete("image_encoder.blocks.1.attn.proj.bias");
    await writeSafetensors(`${dir}/missing_tensor.safetensors`, without);
    assertOneLineError(
      await embed(`${dir}/missing_tensor.safetensors`),
      1,
      /Cannot load checkpoint ".*missing_tensor\.safetensors": missing tensor "image_encoder\.blocks\.1\.attn\.proj\.bias" \(expected shape \[48\]\)/,
    );
    const misShaped = new Map(tensors);
    misShaped.set("image_encoder.blocks.0.mlp.lin1.bias", {
      shape: [7],
      data: new Float32Array(7),
    });
    await writeSafetensors(`${dir}/misshaped.safetensors`, misShaped);
    assertOneLineError(
      await embed(`${dir}/misshaped.safetensors`),
      1,
      /tensor "image_encoder\.blocks\.0\.mlp\.lin1\.bias" has shape \[7\], expected \[192\]/,
    );
    const extra = new Map(tensors);
    extra.set("image_encoder.extra", { shape: [1], data: new Float32Array(1) });
    await writeSafetensors(`${dir}/unknown.safetensors`, extra);
    assertOneLineError(
      await embed(`${dir}/unknown.safetensors`),
      1,
      /unknown tensor "image_encoder\.extra"/,
    );

    assertOneLineError(await embed(checkpoint, image, ["--backend", "tpu"]), 2, /--backend/);
    assertOneLineError(await runCli(["embed", "--image", image]), 2, /--checkpoint/);
    // Nothing was written by the failed runs.
    assertEquals(
      [...Deno.readDirSync(dir)].some((entry) => entry.name.startsWith("e.safetensors")),
      false,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
