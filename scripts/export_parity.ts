/**
 * Export parity at full size: a MoPEFT run exported with `mopeft export` and run in onnxruntime
 * against mopeft's own model on one image (encoder embeddings, head logits, class maps, the
 * promptable decoder), printed as `mopeft export --check` prints it.
 *
 *   deno run -A scripts/export_parity.ts                      # random vit_b, random MoPEFT modules
 *   deno run -A scripts/export_parity.ts --size tiny          # the same on the tiny model (seconds)
 *   deno run -A scripts/export_parity.ts --image-size 256     # vit_b's layers at 256 px
 *   deno run -A scripts/export_parity.ts --checkpoint sam_vit_b.safetensors --peft runs/kvasir \
 *     --image photo.jpg                                       # a real run
 *
 * Options: `--backend cpu|wasm|webgpu|auto` (default wasm), `--keep DIR` (write the export there
 * instead of a temporary folder). With random weights the PEFT modules are drawn so that they
 * move the embeddings and every gate sits well inside (0, 1). vit_b at 1024 px needs about 4 GB
 * of memory and a few minutes on 2 cores.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, useBackend } from "../lib/backend/backend.ts";
import { tf } from "../lib/backend/tf.ts";
import { benchSize } from "../lib/bench/bench_sizes.ts";
import { mulberry32 } from "../lib/nn/prng.ts";
import { architectureOf, randomSamTensors } from "../lib/encoder/random_checkpoint.ts";
import { checkExport } from "../lib/export/check.ts";
import { writeExport } from "../lib/export/export_run.ts";
import { writeSafetensors } from "../lib/io/safetensors.ts";
import { validatePeftConfig } from "../lib/peft/config.ts";
import { PeftModel } from "../lib/peft/peft_model.ts";
import { savePeftRun } from "../lib/peft/run_files.ts";
import { loadBaseCheckpoint } from "../lib/run/base_checkpoint.ts";
import { openRun } from "../lib/run/open_run.ts";

const { values: args } = parseArgs({
  options: {
    checkpoint: { type: "string" },
    peft: { type: "string" },
    image: { type: "string" },
    size: { type: "string", default: "vit_b" },
    "image-size": { type: "string" },
    backend: { type: "string", default: "wasm" },
    keep: { type: "string" },
  },
});

const root = new URL("../", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "mopeft-export-parity-" });
try {
  await useBackend(args.backend as BackendName);
  let checkpoint = args.checkpoint;
  let peft = args.peft;
  if (!checkpoint || !peft) {
    const imageSize = args["image-size"] ? Number(args["image-size"]) : undefined;
    const size = benchSize(args.size!, imageSize);
    checkpoint = `${work}/sam_${args.size}.safetensors`;
    peft = `${work}/run`;
    console.error(`export_parity: random ${args.size} weights and a random MoPEFT run in ${work}`);
    await writeSafetensors(checkpoint, randomSamTensors(architectureOf(size), 1));
    const base = await loadBaseCheckpoint(checkpoint);
    const model = PeftModel.create(base.weights, validatePeftConfig({ method: "mopeft" }), {
      numClasses: 3,
      seed: 1,
    });
    const random = mulberry32(11);
    for (const [name, variable] of model.trainableVariables()) {
      if (name.startsWith("mask_decoder.")) continue;
      const width = variable.shape[variable.shape.length - 1]!;
      const values = Float32Array.from({ length: variable.size }, () => {
        const u = 2 * random() - 1;
        if (name.includes(".gate.")) return name.endsWith(".bias") ? u : 2 * u / Math.sqrt(width);
        return 1.5 * u / Math.sqrt(width);
      });
      variable.assign(tf.tensor(values, variable.shape, "float32"));
    }
    await savePeftRun(peft, model, {
      classNames: ["background", "a", "b"],
      baseFingerprint: base.fingerprint,
    });
    model.dispose();
    base.weights.dispose();
  }
  const image = args.image ?? `${root}fixtures/goldens/tiny_a_wide.png`;
  const out = args.keep ?? `${work}/export`;
  const run = await openRun(checkpoint, peft);
  try {
    let started = performance.now();
    const { files } = await writeExport(run, { out });
    const exportSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const check = await checkExport(out, run, image);
    const checkSeconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify(
      {
        checkpoint,
        peft,
        method: run.manifest.method,
        imageSize: run.base.weights.architecture.encoder.imageSize,
        files,
        exportSeconds: Math.round(exportSeconds * 10) / 10,
        checkSeconds: Math.round(checkSeconds * 10) / 10,
        check,
        withinTarget: check.encoder.image_embeddings.maxRel <= 1e-4,
      },
      null,
      2,
    ));
  } finally {
    run.dispose();
  }
} finally {
  if (!args.keep) await Deno.remove(work, { recursive: true });
}
