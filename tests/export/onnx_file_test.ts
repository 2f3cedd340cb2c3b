/**
 * ONNX serialisation: the official schema round-trips, weights go to external data past a
 * threshold (lowered here) and onnxruntime loads them, opsets other than the supported ones are
 * refused.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { TINY_SIZE } from "../../lib/encoder/random_checkpoint.ts";
import { buildDecoderGraph, promptDecoderWeights } from "../../lib/export/decoder_graph.ts";
import { buildEncoderGraph } from "../../lib/export/encoder_graph.ts";
import { buildHeadGraph } from "../../lib/export/head_graph.ts";
import { decodeOnnxModel, encodeOnnxModel, writeOnnxModel } from "../../lib/export/onnx_file.ts";
import { OnnxGraph } from "../../lib/export/onnx_graph.ts";
import { type OnnxValue, openOnnxSession } from "../../lib/export/onnx_runtime.ts";
import { onBackend } from "../_backends.ts";
import { randomSam } from "../peft/_helpers.ts";
import { randomImage, randomisedRun, relativeMaxDiff } from "./_export_helpers.ts";

await onBackend("cpu");

Deno.test("export: a model decodes with the official schema: opset 17, IR 8, nodes and shapes", () => {
  const g = new OnnxGraph("relu");
  g.input("x", [1, "n"]);
  g.output(g.op("Relu", ["x"], {}, "y"), [1, "n"]);
  const model = decodeOnnxModel(encodeOnnxModel(g).model);
  assertEquals(Number(model.irVersion), 8);
  assertEquals(Number(model.opsetImport[0]!.version), 17);
  assertEquals(model.graph!.node!.map((n) => n.opType), ["Relu"]);
  const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
  assertEquals([Number(dims[0]!.dimValue), dims[1]!.dimParam], [1, "n"]);
});

Deno.test("export: opsets outside 17-21 are refused in one line", () => {
  const g = new OnnxGraph("relu");
  g.input("x", [2]);
  g.output(g.op("Relu", ["x"], {}, "y"), [2]);
  for (const opset of [13, 16, 22]) {
    throws(
      () => encodeOnnxModel(g, { opset }),
      new RegExp(`^RangeError: unsupported ONNX opset ${opset} \\(supported: 17-21\\)$`),
    );
  }
});

Deno.test("export: opsets 18-21 give the same outputs as 17 (reduction axes as inputs from 18)", async () => {
  const sam = randomSam(TINY_SIZE);
  const model = randomisedRun(sam, "mopeft", 11, { task: "detection", queries: 4 });
  const graphs = [
    buildEncoderGraph(model.weights(), model.config, await model.exportTensors()),
    buildHeadGraph(model.weights(), model.head, model.numClasses),
    buildDecoderGraph(promptDecoderWeights(sam, model.weights())),
  ];
  const { rgb, normalised } = randomImage(TINY_SIZE);
  normalised.dispose();
  model.dispose();
  sam.dispose();
  const s = TINY_SIZE.imageSize;
  const grid = s / 16;
  const run = async (opset: number) => {
    const bytes = graphs.map((g) => encodeOnnxModel(g, { opset }).model);
    for (const b of bytes) assertEquals(Number(decodeOnnxModel(b).opsetImport[0]!.version), opset);
    const [encoder, head, decoder] = await Promise.all(bytes.map((b) => openOnnxSession(b)));
    const embeddings = (await encoder!.run({ image: { data: rgb, dims: [1, 3, s, s] } }))
      .image_embeddings!;
    const outputs: Record<string, OnnxValue> = {
      ...await head!.run({ image_embeddings: embeddings }),
      ...await decoder!.run({
        image_embeddings: embeddings,
        point_coords: { data: new Float32Array([30, 40, 0, 0]), dims: [1, 2, 2] },
        point_labels: { data: new Float32Array([1, -1]), dims: [1, 2] },
        mask_input: { data: new Float32Array(16 * grid * grid), dims: [1, 1, 4 * grid, 4 * grid] },
        has_mask_input: { data: new Float32Array([0]), dims: [1] },
        orig_im_size: { data: new Float32Array([100, 128]), dims: [2] },
      }),
      image_embeddings: embeddings,
    };
    await Promise.all([encoder!, head!, decoder!].map((x) => x.close()));
    return outputs;
  };
  const reference = await run(17);
  for (const opset of [18, 19, 20, 21]) {
    const outputs = await run(opset);
    for (const [name, value] of Object.entries(reference)) {
      assertEquals(outputs[name]!.dims, value.dims, `opset ${opset}: ${name}`);
      const diff = relativeMaxDiff(outputs[name]!.data as Float32Array, value.data as Float32Array);
      assert(diff <= 1e-6, `opset ${opset}: ${name} differs by ${diff}`);
    }
  }
});

Deno.test("export: weights past the threshold go to encoder.onnx.data and onnxruntime loads them", async () => {
  const sam = randomSam(TINY_SIZE);
  const model = randomisedRun(sam, "mopeft");
  const graph = buildEncoderGraph(model.weights(), model.config, await model.exportTensors());
  model.dispose();
  sam.dispose();
  const dir = await Deno.makeTempDir();
  try {
    const inline = await writeOnnxModel(`${dir}/inline.onnx`, graph);
    assertEquals(inline, [`${dir}/inline.onnx`]);
    const files = await writeOnnxModel(`${dir}/encoder.onnx`, graph, { externalDataAboveBytes: 0 });
    assertEquals(files, [`${dir}/encoder.onnx`, `${dir}/encoder.onnx.data`]);
    const small = (await Deno.stat(`${dir}/encoder.onnx`)).size;
    const data = (await Deno.stat(`${dir}/encoder.onnx.data`)).size;
    assert(small < graph.initializerBytes / 4, `encoder.onnx still holds ${small} bytes`);
    assert(data >= graph.initializerBytes * 0.75, `encoder.onnx.data holds only ${data} bytes`);
    const decoded = decodeOnnxModel(await Deno.readFile(`${dir}/encoder.onnx`));
    const external = decoded.graph!.initializer!.filter((t) => t.dataLocation === 1);
    assert(external.length > 0);
    const location = external[0]!.externalData![0]!;
    assertEquals([location.key, location.value], ["location", "encoder.onnx.data"]);

    const { rgb, normalised } = randomImage(TINY_SIZE);
    normalised.dispose();
    const s = TINY_SIZE.imageSize;
    const outputs = [];
    for (const path of [`${dir}/inline.onnx`, `${dir}/encoder.onnx`]) {
      const session = await openOnnxSession(path);
      outputs.push(
        (await session.run({ image: { data: rgb, dims: [1, 3, s, s] } })).image_embeddings!.data,
      );
      await session.close();
    }
    assertEquals(outputs[1], outputs[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
