/**
 * Running exported graphs in onnxruntime (`onnxruntime-node`'s CPU build, which Deno loads as
 * is: it skips the package's install script, whose CUDA download is not needed).
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";

/** onnxruntime-node, loaded on first use: every other command starts without its native module. */
let runtime: Promise<typeof Ort> | undefined;
const loadRuntime = () => (runtime ??= import("onnxruntime-node"));

/** A float32 or int64 array with its shape. */
export interface OnnxValue {
  data: Float32Array | BigInt64Array;
  dims: number[];
}

/** An open onnxruntime session. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph on `feeds` and returns every output. */
  run(feeds: Record<string, OnnxValue>): Promise<Record<string, OnnxValue>>;
  close(): Promise<void>;
}

/**
 * Opens an ONNX model from a file (its external data is found beside it) or from bytes.
 *
 * @example
 * ```ts ignore
 * const session = await openOnnxSession("export/encoder.onnx");
 * const { image_embeddings } = await session.run({ image: { data: pixels, dims: [1, 3, 1024, 1024] } });
 * await session.close();
 * ```
 */
export async function openOnnxSession(model: string | Uint8Array): Promise<OnnxSession> {
  const ort = await loadRuntime();
  const options: Ort.InferenceSession.SessionOptions = {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
  };
  let session: Ort.InferenceSession;
  try {
    session = typeof model === "string"
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (error) {
    // onnxruntime's own message, on one line, after the file's name.
    const why = String((error as Error).message ?? error).replace(/\s+/g, " ").trim();
    const what = typeof model === "string" ? `"${model}"` : "from memory";
    throw new Error(`Cannot load ONNX model ${what}: ${why}`);
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const tensors: Record<string, Ort.Tensor> = {};
      for (const [name, value] of Object.entries(feeds)) {
        tensors[name] = value.data instanceof Float32Array
          ? new ort.Tensor("float32", value.data, value.dims)
          : new ort.Tensor("int64", value.data, value.dims);
      }
      const results = await session.run(tensors);
      const out: Record<string, OnnxValue> = {};
      for (const [name, tensor] of Object.entries(results)) {
        out[name] = {
          data: tensor.data as Float32Array | BigInt64Array,
          dims: [...tensor.dims],
        };
      }
      return out;
    },
    close: () => session.release(),
  };
}
