/**
 * A full evaluation leaves no tensor behind: the tensors and bytes alive after every image, and
 * after the whole split, are those alive before it. The model is a MoPEFT run in the form `mopeft
 * eval` loads (flat prefixes), on the soak tests' 32 px SAM so that every image is cut into many
 * tiles.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type Tensor4D, tf } from "../../lib/backend/tf.ts";
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { evaluate } from "../../lib/eval/evaluate.ts";
import { validatePeftConfig } from "../../lib/peft/config.ts";
import { PeftModel } from "../../lib/peft/peft_model.ts";
import { onBackend } from "../_backends.ts";
import { randomSam, SMALL_CONFIG } from "../peft/_helpers.ts";
import { SOAK_SIZE } from "../train/_soak.ts";

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;
const split = await loadSplit(await resolveDataset({ data: DATA, split: "test" }));

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`${backend}: evaluating every synthetic image leaks no tensor and no byte`, async () => {
    await onBackend(backend);
    const sam = randomSam(SOAK_SIZE);
    const config = validatePeftConfig({ method: "mopeft", ...SMALL_CONFIG });
    const options = { numClasses: 3, seed: 2 };
    const trained = PeftModel.create(sam, config, options);
    const model = PeftModel.fromTensors(sam, config, options, await trained.exportTensors());
    trained.dispose();
    // A first pass fills the encoder's per-shape constants (kept for good; no leak).
    tf.dispose(model.forward(tf.zeros([1, 32, 32, 3]) as Tensor4D));
    const reader = new SegmentationReader(split, { size: SOAK_SIZE.imageSize });
    const before = tf.memory();
    const seen: { numTensors: number; numBytes: number }[] = [];
    // Overlap S/8 and batches of 3 as `mopeft eval` would cut them: partial last batches too.
    const result = await evaluate((images) => model.forward(images), reader, {
      batchSize: 3,
      overlap: SOAK_SIZE.imageSize / 8,
      onImage: () => {
        const { numTensors, numBytes } = tf.memory();
        seen.push({ numTensors, numBytes });
      },
    });
    assertEquals([result.images, result.tiles], [4, 156]);
    const flat = { numTensors: before.numTensors, numBytes: before.numBytes };
    assertEquals(seen, [flat, flat, flat, flat]);
    const after = tf.memory();
    assertEquals({ numTensors: after.numTensors, numBytes: after.numBytes }, flat);
    console.log(
      `${backend}: ${result.tiles} tiles, ${flat.numTensors} tensors / ${flat.numBytes} B ` +
        `before, between the images and after`,
    );
    model.dispose();
    sam.dispose();
  });
}
