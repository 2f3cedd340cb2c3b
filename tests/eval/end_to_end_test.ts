/**
 * Training the semantic decoder of a tiny random-weight SAM on the synthetic fixture raises its
 * mIoU on the held-out test split.
 */
import { SegmentationReader } from "../../lib/data/reader.ts";
import { resolveDataset } from "../../lib/data/resolve.ts";
import { loadSplit } from "../../lib/data/split.ts";
import { evaluate } from "../../lib/eval/evaluate.ts";
import { train } from "../../lib/train/trainer.ts";
import { onBackend } from "../_backends.ts";
import { tinyDecoderModel } from "../train/_tiny_model.ts";

await onBackend("wasm");

const DATA = new URL("../../fixtures/mess/synthetic", import.meta.url).pathname;

Deno.test("decoder-only training on the synthetic fixture raises test mIoU", async () => {
  const trainSplit = await loadSplit(await resolveDataset({ data: DATA, split: "train" }));
  const testSplit = await loadSplit(await resolveDataset({ data: DATA, split: "test" }));
  const model = await tinyDecoderModel(3);
  const predict = (images: Parameters<typeof model.forward>[0]) => model.forward(images);
  const testReader = new SegmentationReader(testSplit, { size: 128, overlap: 16 });
  const before = (await evaluate(predict, testReader, { batchSize: 4 })).report.miou!;
  const validated: number[] = [];
  await train(model, new SegmentationReader(trainSplit, { size: 128, seed: 0 }), {
    batchSize: 4,
    maxSteps: 40,
    learningRate: { base: 2e-3, warmupSteps: 5, decay: "cosine", minLr: 2e-4 },
    logEvery: 10,
    validate: async () => (await evaluate(predict, testReader, { batchSize: 4 })).report.miou!,
    valEvery: 20,
    onLog: (record) => record.valMiou !== undefined && validated.push(record.valMiou),
  });
  const after = (await evaluate(predict, testReader, { batchSize: 4 })).report.miou!;
  model.dispose();
  console.log(`test mIoU before ${before.toFixed(2)}, after 40 steps ${after.toFixed(2)}`);
  if (validated.length !== 2) {
    throw new Error(`validation ran ${validated.length} times, expected 2`);
  }
  if (!(after > before + 5)) throw new Error(`mIoU ${before} -> ${after}: training did not help`);
});
