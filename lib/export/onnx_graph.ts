/**
 * A small builder of ONNX graphs: nodes, initializers (float32 and int64 constants), graph inputs
 * and outputs with their shapes. It knows nothing of SAM; the encoder, head and decoder graphs
 * are written on top of it, and `onnx_file.ts` serialises what it holds with the official schema.
 *
 * @module
 */

/** An attribute value, typed as ONNX types it. */
export type OnnxAttribute =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { string: string };

/** A constant tensor of the graph. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** One operator application. */
export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes: Record<string, OnnxAttribute>;
}

/** A graph input or output: name, element type and shape (a string names a dynamic axis). */
export interface OnnxValueInfo {
  name: string;
  elemType: "float32" | "int64";
  shape: (number | string)[];
}

/** An int attribute. */
export const int = (value: number): OnnxAttribute => ({ int: value });
/** A float attribute. */
export const float = (value: number): OnnxAttribute => ({ float: value });
/** An ints attribute. */
export const ints = (values: readonly number[]): OnnxAttribute => ({ ints: values });

/**
 * A graph under construction. Values are referred to by name; every method that adds a node
 * returns the name of its output (or outputs).
 *
 * @example
 * ```ts
 * const g = new OnnxGraph("relu");
 * g.input("x", [2]);
 * g.output(g.op("Relu", ["x"], {}, "y"), [2]);
 * g.nodes.length; // 1
 * ```
 */
export class OnnxGraph {
  readonly name: string;
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  readonly #used = new Set<string>();
  readonly #int64Cache = new Map<string, string>();
  readonly #floatCache = new Map<number, string>();

  constructor(name: string) {
    this.name = name;
  }

  /** A fresh value name starting with `hint`. */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, "_");
    let name = base;
    for (let i = 1; this.#used.has(name); i++) name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }

  /** Declares a float32 (or int64) graph input. */
  input(name: string, shape: (number | string)[], elemType: OnnxValueInfo["elemType"] = "float32") {
    if (this.#used.has(name)) throw new Error(`ONNX graph "${this.name}": "${name}" is taken`);
    this.#used.add(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares `value` a graph output of `shape`. */
  output(
    value: string,
    shape: (number | string)[],
    elemType: OnnxValueInfo["elemType"] = "float32",
  ) {
    this.outputs.push({ name: value, elemType, shape });
  }

  /** A float32 initializer holding `data` with `dims`. */
  constant(hint: string, data: Float32Array, dims: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new RangeError(`constant "${hint}": ${data.length} values for shape [${dims}]`);
    }
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [...dims], data });
    return name;
  }

  /** A float32 scalar constant (shared between uses). */
  scalar(value: number): string {
    const cached = this.#floatCache.get(value);
    if (cached) return cached;
    const name = this.constant("scalar", new Float32Array([value]), []);
    this.#floatCache.set(value, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes, pads; shared between uses). */
  int64s(values: readonly number[]): string {
    const key = values.join(",");
    const cached = this.#int64Cache.get(key);
    if (cached) return cached;
    const name = this.fresh("i64");
    this.initializers.push({
      name,
      dims: [values.length],
      data: BigInt64Array.from(values, (v) => BigInt(v)),
    });
    this.#int64Cache.set(key, name);
    return name;
  }

  /** Adds a node with one output and returns that output's name (`output` names it). */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, OnnxAttribute> = {},
    output?: string,
  ): string {
    return this.opN(opType, inputs, 1, attributes, output ? [output] : undefined)[0]!;
  }

  /** Adds a node with `count` outputs. */
  opN(
    opType: string,
    inputs: string[],
    count: number,
    attributes: Record<string, OnnxAttribute> = {},
    names?: string[],
  ): string[] {
    const outputs = names
      ? names.map((n) => {
        if (this.#used.has(n)) throw new Error(`ONNX graph "${this.name}": "${n}" is taken`);
        this.#used.add(n);
        return n;
      })
      : Array.from({ length: count }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: `${opType}_${this.nodes.length}`,
      attributes,
    });
    return outputs;
  }

  /** Bytes of all initializers. */
  get initializerBytes(): number {
    return this.initializers.reduce((n, t) => n + t.data.byteLength, 0);
  }
}
