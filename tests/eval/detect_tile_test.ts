/**
 * Training targets and inference agree: the rasterised mask targets of the fixture split, fed to
 * the inference path as if a model had predicted them, come back as boxes that score nearly
 * perfectly (what is lost is the S/4 mask resolution and objects cut by tile borders).
 */
import assert from "node:assert/strict";
import { loadDetectionSplit } from "../../lib/data/detection_layout.ts";
import { DetectionReader } from "../../lib/data/detection_reader.ts";
import type { BoxXywh } from "../../lib/image/box.ts";
import { type BoxDetection, tileDetections } from "../../lib/eval/detect_tile.ts";
import { classwiseNms } from "../../lib/eval/nms.ts";
import { makeDetectionReport } from "../../lib/metrics/detection_report.ts";
import { rasteriseTargets } from "../../lib/train/detection_targets.ts";
import { onBackend } from "../_backends.ts";

await onBackend("cpu");

Deno.test("tileDetections() of the split's own mask targets scores AP50 above 90", async () => {
  const data = new URL("../../fixtures/detection", import.meta.url).pathname;
  const split = await loadDetectionSplit({ data, split: "train" });
  const size = 128;
  const low = size / 4;
  const queries = 10;
  const channels = split.classNames.length + 1;
  const found = new Map<number, { detections: BoxDetection[]; tiles: number }>();
  for await (const tile of new DetectionReader(split, { size }).tiles()) {
    const targets = rasteriseTargets(tile.objects, size, low);
    // Query j predicts object j: mask logits ±10, class logit 10 on its class; the rest "no object".
    const masks = new Float32Array(queries * low * low).fill(-10);
    const classes = new Float32Array(queries * channels);
    for (let q = 0; q < queries; q++) classes[q * channels + channels - 1] = 10;
    targets.classes.forEach((classIndex, j) => {
      for (let i = 0; i < low * low; i++) {
        if (targets.masks[j * low * low + i]! > 0) masks[j * low * low + i] = 10;
      }
      classes[j * channels + channels - 1] = 0;
      classes[j * channels + classIndex] = 10;
    });
    const entry = found.get(tile.source.id) ?? { detections: [], tiles: tile.count };
    entry.detections.push(...await tileDetections(classes, masks, queries, low, tile));
    found.set(tile.source.id, entry);
  }
  const images = split.images.map((image) => {
    const { detections, tiles } = found.get(image.id)!;
    const merged = tiles > 1 ? classwiseNms(detections, 0.5) : detections;
    return {
      id: image.id,
      objects: image.objects,
      detections: merged.map((d) => ({
        classIndex: d.classIndex,
        score: d.score,
        bbox: [d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] as BoxXywh,
      })),
    };
  });
  const report = makeDetectionReport(images, { classNames: split.classNames });
  assert.ok(report.ap50! > 90, `AP50 ${report.ap50}`);
});
