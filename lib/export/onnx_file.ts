/**
 * Serialising an {@link OnnxGraph} as an ONNX model with the official `onnx.proto` schema
 * (`onnx-proto`: protobufjs over the official schema), weights inline or, past protobuf's 2 GiB
 * limit, in an ONNX external-data file beside the model.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import type { OnnxAttribute, OnnxGraph, OnnxValueInfo } from "./onnx_graph.ts";

const { onnx } = onnxProto;

/**
 * The ONNX opsets the exporter writes, with the IR version each goes with. The graphs use
 * operators whose form is the same in all of them, except the reductions' axes (an attribute up
 * to 17, an input from 18), which {@link encodeOnnxModel} writes as each opset wants.
 */
const IR_VERSIONS: ReadonlyMap<number, number> = new Map([[17, 8], [18, 8], [19, 9], [20, 9], [
  21,
  10,
]]);

/** The ONNX opsets the exporter writes. */
export const SUPPORTED_OPSETS: readonly number[] = [...IR_VERSIONS.keys()];

/** The default opset (SAM's official export uses 17 too). */
export const DEFAULT_OPSET = 17;

/** Reductions whose `axes` became an input in opset 18 (ReduceSum's did in 13). */
const REDUCTIONS_WITH_AXES_INPUT_FROM_18 = new Set([
  "ReduceMax",
  "ReduceMean",
  "ReduceMin",
  "ReduceProd",
  "ReduceL1",
  "ReduceL2",
  "ReduceLogSum",
  "ReduceLogSumExp",
  "ReduceSumSquare",
]);

/**
 * Protobuf refuses messages of 2 GiB and more; past this many bytes of weights the weights go to
 * an external-data file.
 */
export const EXTERNAL_DATA_ABOVE_BYTES = 1.5 * 1024 ** 3;

/** Throws a one-line `RangeError` unless `opset` is one the exporter writes. */
export function checkOpset(opset: number): void {
  if (!SUPPORTED_OPSETS.includes(opset)) {
    throw new RangeError(
      `unsupported ONNX opset ${opset} (supported: ${SUPPORTED_OPSETS[0]}-${
        SUPPORTED_OPSETS.at(-1)
      })`,
    );
  }
}

/** Options of {@link encodeOnnxModel}. */
export interface EncodeOptions {
  opset?: number;
  /** The external-data file's name (relative to the model's folder), e.g. `encoder.onnx.data`. */
  externalDataName?: string;
  /** Weights past this many bytes in all go to the external file; default 1.5 GiB. */
  externalDataAboveBytes?: number;
  /** Initializers smaller than this stay inline even then (shapes, scalars); default 1 KiB. */
  externalMinTensorBytes?: number;
  /** `producer_name` in the file. */
  producer?: string;
  /** Metadata props (strings) stored in the model. */
  metadata?: Record<string, string>;
}

/** An encoded model: the `.onnx` bytes and, when weights went outside, the external data. */
export interface EncodedModel {
  model: Uint8Array;
  /** The external-data file's bytes in pieces (write them in order), or undefined. */
  externalData?: { name: string; chunks: Uint8Array[]; bytes: number };
}

function attributeProto(name: string, value: OnnxAttribute) {
  const type = onnx.AttributeProto.AttributeType;
  if ("int" in value) return { name, type: type.INT, i: value.int };
  if ("float" in value) return { name, type: type.FLOAT, f: value.float };
  if ("ints" in value) return { name, type: type.INTS, ints: [...value.ints] };
  return { name, type: type.STRING, s: new TextEncoder().encode(value.string) };
}

function valueInfo(info: OnnxValueInfo) {
  const elemType = info.elemType === "int64"
    ? onnx.TensorProto.DataType.INT64
    : onnx.TensorProto.DataType.FLOAT;
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: info.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Encodes `graph` as an ONNX model (opset `options.opset`, default 17). Throws a one-line
 * `RangeError` for an opset it does not write.
 *
 * @example
 * ```ts
 * import { OnnxGraph } from "./onnx_graph.ts";
 * const g = new OnnxGraph("relu");
 * g.input("x", [2]);
 * g.output(g.op("Relu", ["x"], {}, "y"), [2]);
 * encodeOnnxModel(g).model.length > 0; // true
 * ```
 */
export function encodeOnnxModel(graph: OnnxGraph, options: EncodeOptions = {}): EncodedModel {
  const opset = options.opset ?? DEFAULT_OPSET;
  checkOpset(opset);
  const external = options.externalDataName !== undefined &&
    graph.initializerBytes > (options.externalDataAboveBytes ?? EXTERNAL_DATA_ABOVE_BYTES);
  if (!external && graph.initializerBytes >= 2 * 1024 ** 3 - 64 * 1024 ** 2) {
    throw new RangeError(
      `ONNX graph "${graph.name}" holds ${graph.initializerBytes} bytes of weights, past ` +
        `protobuf's 2 GiB limit: it needs an external-data file`,
    );
  }
  const minBytes = options.externalMinTensorBytes ?? 1024;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = graph.initializers.map((t) => {
    const dataType = t.data instanceof Float32Array
      ? onnx.TensorProto.DataType.FLOAT
      : onnx.TensorProto.DataType.INT64;
    const raw = bytesOf(t.data);
    if (!external || raw.byteLength < minBytes) {
      return { name: t.name, dims: t.dims, dataType, rawData: raw };
    }
    // Offsets aligned to 4 KiB, as onnx's own writer does, so that runtimes can map them.
    const padding = (4096 - (offset % 4096)) % 4096;
    if (padding > 0) chunks.push(new Uint8Array(padding));
    offset += padding;
    chunks.push(raw);
    const entry = {
      name: t.name,
      dims: t.dims,
      dataType,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: options.externalDataName! },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(raw.byteLength) },
      ],
    };
    offset += raw.byteLength;
    return entry;
  });
  // Opset 18 moved the reductions' axes from an attribute to an input.
  const nodes = graph.nodes.map((n) => {
    const axes = n.attributes.axes;
    if (opset < 18 || !REDUCTIONS_WITH_AXES_INPUT_FROM_18.has(n.opType) || !axes) return n;
    if (!("ints" in axes)) throw new Error(`${n.name}: axes must be ints`);
    const name = `${n.name}_axes`;
    initializer.push({
      name,
      dims: [axes.ints.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: bytesOf(BigInt64Array.from(axes.ints, (v) => BigInt(v))),
    });
    const { axes: _, ...attributes } = n.attributes;
    return { ...n, inputs: [...n.inputs, name], attributes };
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSIONS.get(opset)!,
    producerName: options.producer ?? "mopeft",
    opsetImport: [{ domain: "", version: opset }],
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([name, value]) => attributeProto(name, value)),
      })),
      initializer,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return {
    model: bytes,
    externalData: external ? { name: options.externalDataName!, chunks, bytes: offset } : undefined,
  };
}

/**
 * Writes `graph` to `path` (and its external data, when needed, to `path + ".data"` beside it).
 * Returns the files written.
 */
export async function writeOnnxModel(
  path: string,
  graph: OnnxGraph,
  options: Omit<EncodeOptions, "externalDataName"> = {},
): Promise<string[]> {
  const dataName = `${path.split("/").pop()!}.data`;
  const encoded = encodeOnnxModel(graph, { ...options, externalDataName: dataName });
  await Deno.writeFile(path, encoded.model);
  if (!encoded.externalData) return [path];
  const dataPath = `${path}.data`;
  using file = await Deno.open(dataPath, { write: true, create: true, truncate: true });
  for (const chunk of encoded.externalData.chunks) {
    let written = 0;
    while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
  }
  return [path, dataPath];
}

/** Decodes an ONNX file's bytes (for tests and inspection). */
export function decodeOnnxModel(bytes: Uint8Array): ReturnType<typeof onnx.ModelProto.decode> {
  return onnx.ModelProto.decode(bytes);
}
