/** Run files: refusal of another base checkpoint or architecture; streaming SHA-256. */
import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { sha256File } from "../../lib/io/fingerprint.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { loadPeftRun, savePeftRun } from "../../lib/peft/run_files.ts";
import { onBackend } from "../_backends.ts";
import { randomSam, SMALL_B_SIZE, SMALL_CONFIG } from "./_helpers.ts";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";

await onBackend("wasm");

Deno.test("loadPeftRun() refuses a run made for another checkpoint or architecture", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const model = PeftModel.create(sam, validatePeftConfig({ method: "lora", ...SMALL_CONFIG }), {
    numClasses: 2,
    seed: 1,
  });
  const dir = await Deno.makeTempDir();
  const trainedOn = { sha256: "ab12".repeat(16), architecture: sam.architecture };
  await savePeftRun(dir, model, { classNames: ["a", "b"], baseFingerprint: trainedOn });
  const other = {
    sha256: "cd34".repeat(16),
    architecture: sam.architecture,
    file: "x.safetensors",
  };
  await rejects(
    loadPeftRun(dir, sam, other),
    {
      message: `Cannot load PEFT run "${dir}": it was trained on checkpoint sha256 ab12ab12ab12… ` +
        `but "x.safetensors" has cd34cd34cd34…`,
    },
  );
  const tiny = randomSam(TINY_SIZE);
  await rejects(
    loadPeftRun(dir, tiny, {
      ...trainedOn,
      architecture: tiny.architecture,
      file: "t.safetensors",
    }),
    {
      message:
        `Cannot load PEFT run "${dir}": it was trained on a SAM of D 24, 3 blocks, 3 heads, ` +
        `64 px, windows 3, global blocks 2 but "t.safetensors" is D 32, 4 blocks, 2 heads, ` +
        `128 px, windows 4, global blocks 1,3`,
    },
  );
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/peft.json`));
  assertEquals(manifest.method, "lora");
  assertEquals(manifest.config.loraRank, SMALL_CONFIG.loraRank);
  assertEquals(manifest.baseCheckpoint.sha256, trainedOn.sha256);
  await Deno.remove(dir, { recursive: true });
  model.dispose();
  sam.dispose();
  tiny.dispose();
});

Deno.test("loadPeftRun() refuses a weights file that does not fit the method", async () => {
  const sam = randomSam(SMALL_B_SIZE);
  const fingerprint = { sha256: "00".repeat(32), architecture: sam.architecture };
  const lora = PeftModel.create(sam, validatePeftConfig({ method: "lora", ...SMALL_CONFIG }), {
    numClasses: 2,
    seed: 1,
  });
  const dir = await Deno.makeTempDir();
  await savePeftRun(dir, lora, { classNames: ["a", "b"], baseFingerprint: fingerprint });
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/peft.json`));
  manifest.config.loraRank = 3;
  await Deno.writeTextFile(`${dir}/peft.json`, JSON.stringify(manifest));
  await rejects(
    loadPeftRun(dir, sam, fingerprint),
    /peft\.safetensors: tensor "encoder\.blocks\.0\.lora\.query_a" has shape \[2,24\], expected \[3,24\]/,
  );
  await Deno.remove(dir, { recursive: true });
  lora.dispose();
  sam.dispose();
});

Deno.test("sha256File() streams the same digest as WebCrypto", async () => {
  const path = await Deno.makeTempFile();
  const bytes = new Uint8Array(9 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 255);
  await Deno.writeFile(path, bytes);
  const expected = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  assertEquals(await sha256File(path), expected);
  await Deno.remove(path);
});
