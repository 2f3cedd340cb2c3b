/**
 * Memory-efficient encoder attention on the tfjs webgpu backend: three WGSL kernels (one forward,
 * two backward) in the style of FlashAttention-2, wrapped in a `tf.customGrad`.
 *
 * The result equals the plain path's `softmax([q·Pkᵀ, q·kᵀ + relH + relW] * ...) · [Pv; v]` (q
 * scaled by `1/sqrt(headDim)` in the products, unscaled in the relative terms, prefix keys without
 * a relative term), but no `[T, T]` tensor ever exists: the logits live one at a time in
 * registers, with a running maximum and sum per query row (online softmax). Forward keeps only
 * the output and one logsumexp per query row; backward recomputes the probabilities from them.
 *
 * Memory: O(B·T·d) in forward and backward (B = batch * heads), against O(B·T·T) for the plain
 * path and O(queryBlock·(L + T)) per block for the tfjs-ops chunked path. For a vit_b global block
 * at 1024 px (B = 12 per image, T = 4096, d = 64) backward keeps 12 · 4096 · 65 floats (13 MB)
 * per image where the plain path keeps 805 MB of probabilities.
 *
 * Tiling. Each invocation owns one query row (forward, and the dQ kernel) or one key (the dK/dV
 * kernel), with its vectors and accumulators in registers; a workgroup of {@link LANES} owns
 * consecutive ones and walks the other side a tile of rows at a time, staged as vec4 in workgroup
 * memory, where every invocation reads the same element at the same time. Forward accumulates
 * `exp(logit - max) · v` and rescales when the maximum grows. The dQ kernel also sums the logits'
 * gradient over each key row and key column, the gradients of relH and relW. Every output element
 * has exactly one writer: no atomics. Tiles hold {@link PREFERRED_TILE} rows (16 KB for head dim
 * 64) and halve until they fit WebGPU's default limit of 16384 bytes, or 2048 bytes on a software
 * adapter (see {@link SOFTWARE_WORKGROUP_STORAGE_BYTES}); with 64 invocations per workgroup and at
 * most 7 storage buffers per kernel (keys and values are passed with their prefixes, the two
 * biases as one), the kernels need no more than WebGPU's default limits on any adapter.
 *
 * The relative terms enter as the two small biases of {@link relativeBiases} (`[B, T, h]` and
 * `[B, T, w]`), computed with autodiffed tfjs ops, exactly as on the chunked path; the kernels
 * return their gradients and tfjs carries them on to q and the tables.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { relativeBiases } from "./relative_position.ts";
import type { ChunkedAttentionInputs } from "./chunked_attention.ts";

/** WebGPU's default `maxComputeWorkgroupStorageSize`. */
const WORKGROUP_STORAGE_BYTES = 16384;

/**
 * Workgroup storage per kernel on a software adapter. Mesa's llvmpipe compiles a shader in time
 * that grows about with the square of its workgroup arrays' length (measured for the forward
 * kernel at head dim 64: 1.5 s with 2048 bytes, 3 s with 4096, 22 s with 16384), while smaller
 * tiles run about as fast there (same speed from 2048 bytes up at T = 1024).
 */
const SOFTWARE_WORKGROUP_STORAGE_BYTES = 2048;

/** WebGPU's default `maxComputeWorkgroupsPerDimension`. */
const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** The program object `WebGPUBackend.runWebGPUProgram` compiles and dispatches. */
interface WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  /** Must name everything the shader bakes in: tfjs adds only ranks and dtypes to it. */
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** WGSL fields appended to tfjs's `Uniforms` struct. */
  uniforms: string;
  getUserCode(): string;
}

interface ProgramUniform {
  type: "int32" | "float32";
  data: number[];
}

/** The part of tfjs's `WebGPUBackend` used here (declared locally: tfjs comes only via tf.ts). */
interface WebGPUProgramRunner {
  device?: { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } };
  runWebGPUProgram(
    program: WebGPUProgram,
    inputs: tf.TensorInfo[],
    outputDtype: "float32",
    uniforms: ProgramUniform[],
  ): tf.TensorInfo;
}

function webgpuBackend(): WebGPUProgramRunner {
  return tf.backend() as unknown as WebGPUProgramRunner;
}

/** Floats of workgroup storage each kernel may use on the current adapter. */
function storageBudgetFloats(backend: WebGPUProgramRunner): number {
  const info = backend.device?.adapterInfo;
  const software = info?.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(info?.description ?? "");
  return (software ? SOFTWARE_WORKGROUP_STORAGE_BYTES : WORKGROUP_STORAGE_BYTES) / 4;
}

/** Invocations per workgroup, each owning one query row (or, for dK and dV, one key). */
const LANES = 64;

/**
 * Rows staged per step in workgroup memory, unless the budget asks for fewer: 32 keys and values
 * of head dim 64 fill the default 16384 bytes.
 */
const PREFERRED_TILE = 32;

/** The head dim rounded up to whole vec4s, as the tiles store it. */
function paddedDim(headDim: number): number {
  return 4 * Math.ceil(headDim / 4);
}

/** The shape uniforms every kernel reads, in the order of {@link UNIFORM_FIELDS}. */
interface AttentionGeometry {
  tokens: number;
  prefixLength: number;
  size: [number, number];
  scale: number;
}

const UNIFORM_FIELDS = "tokens : i32, prefixLength : i32, gridH : i32, gridW : i32, scale : f32,";

function uniformValues(geometry: AttentionGeometry): ProgramUniform[] {
  const { tokens, prefixLength, size: [h, w], scale } = geometry;
  return [
    { type: "int32", data: [tokens] },
    { type: "int32", data: [prefixLength] },
    { type: "int32", data: [h] },
    { type: "int32", data: [w] },
    { type: "float32", data: [scale] },
  ];
}

/** The kernels' inputs, in this order. */
const FORWARD_INPUTS = ["queries", "keys", "values", "biases"];
const BACKWARD_INPUTS = [...FORWARD_INPUTS, "rowStats", "outputGrad"];

/** A WGSL function reading four head-dim columns of one row of `buffer`, zero past the end. */
function vec4Reader(name: string, buffer: string, headDim: number): string {
  const read = headDim % 4 === 0
    ? `return vec4<f32>(${buffer}[at], ${buffer}[at + 1], ${buffer}[at + 2], ${buffer}[at + 3]);`
    : `var v = vec4<f32>(0.0);
      for (var m = 0; m < 4; m++) {
        if (c4 * 4 + m < HEAD_DIM) {
          v[m] = ${buffer}[at + m];
        }
      }
      return v;`;
  return `
    fn ${name}(row : i32, c4 : i32) -> vec4<f32> {
      let at = row * HEAD_DIM + c4 * 4;
      ${read}
    }
  `;
}

/**
 * WGSL shared by the kernels. Keys and values come prefix first (`L + T` rows per batch entry);
 * only the spatial keys get the relative bias `relH[i, ky] + relW[i, kx]`, read from `biases`,
 * `[B, T, h + w]`.
 */
function commonCode(headDim: number, backward: boolean): string {
  return `
    const HEAD_DIM : i32 = ${headDim};
    const HEAD_VEC4S : i32 = ${paddedDim(headDim) / 4};
    // Stands in for -inf (which WGSL cannot write as a literal); exp() of it is 0.
    const MASKED : f32 = -3.0e38;

    ${vec4Reader("queryRow", "queries", headDim)}
    ${vec4Reader("keyRow", "keys", headDim)}
    ${vec4Reader("valueRow", "values", headDim)}
    ${backward ? vec4Reader("outputGradRow", "outputGrad", headDim) : ""}

    fn biasAt(b : i32, i : i32, j : i32) -> f32 {
      let t = j - uniforms.prefixLength;
      if (t < 0) {
        return 0.0;
      }
      let row = (b * uniforms.tokens + i) * (uniforms.gridH + uniforms.gridW);
      return biases[row + t / uniforms.gridW] + biases[row + uniforms.gridH + t % uniforms.gridW];
    }

    // Writes the head-dim columns 4 * c4 ... of a vec4, leaving out the padding.
    fn writeVec4(at : i32, c4 : i32, v : vec4<f32>) {
      for (var m = 0; m < 4; m++) {
        if (c4 * 4 + m < HEAD_DIM) {
          result[at + c4 * 4 + m] = v[m];
        }
      }
    }
  `;
}

/**
 * WGSL that stages rows `first ... first + TILE` of a tile (zeros from `limit` on), read through
 * `reader` at flat row `rowBase + r`, all invocations sharing the work.
 */
function loadTile(tile: string, first: string, limit: string, reader: string, rowBase: string) {
  return `
    for (var e = lane; e < TILE * HEAD_VEC4S; e += LANES) {
      let r = ${first} + e / HEAD_VEC4S;
      var loaded = vec4<f32>(0.0);
      if (r < ${limit}) {
        loaded = ${reader}(${rowBase} + r, e % HEAD_VEC4S);
      }
      ${tile}[e] = loaded;
    }
  `;
}

/** What every kernel's program has in common; subclasses supply the WGSL. */
abstract class AttentionProgram implements WebGPUProgram {
  readonly outputShape: number[];
  shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  readonly uniforms = UNIFORM_FIELDS;
  /** Rows staged per step in workgroup memory (keys, or query rows for dK/dV). */
  readonly tile: number;

  /**
   * @param owned query rows (or keys) in all, one per invocation, `LANES` per workgroup.
   * @param floatsPerTileRow workgroup storage per staged row, to fit the tile to `budget`.
   */
  constructor(
    readonly variableNames: string[],
    readonly headDim: number,
    outputShape: number[],
    owned: number,
    floatsPerTileRow: number,
    budget: number,
  ) {
    let tile = PREFERRED_TILE;
    while (tile * floatsPerTileRow > budget) {
      if (tile === 1) {
        throw new RangeError(
          `fusedAttention(): head dim ${headDim} does not fit in workgroup memory`,
        );
      }
      tile /= 2;
    }
    this.tile = tile;
    const batch = outputShape[0]!;
    const dispatch: [number, number, number] = [Math.ceil(owned / LANES), batch, 1];
    if (dispatch[0] > MAX_WORKGROUPS_PER_DIMENSION || batch > MAX_WORKGROUPS_PER_DIMENSION) {
      // tfjs would fold the dispatch into another shape, and the kernels read workgroupId as is.
      throw new RangeError(
        `fusedAttention(): ${dispatch[0]} x ${batch} workgroups exceed WebGPU's limit`,
      );
    }
    this.outputShape = outputShape;
    this.shaderKey = `${this.constructor.name}_${headDim}_${tile}`;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = dispatch;
    this.workgroupSize = [LANES, 1, 1];
  }

  abstract getUserCode(): string;

  /** The WGSL shared by all kernels, with this program's tiling. */
  protected header(backward: boolean): string {
    return `
      ${commonCode(this.headDim, backward)}
      const LANES : i32 = ${LANES};
      const TILE : i32 = ${this.tile};
    `;
  }
}

/**
 * Forward: output `[B, T, d + 1]`, the attention output in the first `d` columns and each query
 * row's logsumexp in the last. Each invocation owns one query row (its scaled query, output
 * accumulator, running maximum and sum in registers) and walks the `L + T` keys a tile at a time.
 */
class ForwardProgram extends AttentionProgram {
  constructor(headDim: number, batch: number, tokens: number, budget: number) {
    // A tile stages keys and values.
    super(
      FORWARD_INPUTS,
      headDim,
      [batch, tokens, headDim + 1],
      tokens,
      2 * paddedDim(headDim),
      budget,
    );
  }

  getUserCode(): string {
    const vec4s = paddedDim(this.headDim) / 4;
    return `
      ${this.header(false)}
      var<workgroup> tileK : array<vec4<f32>, ${this.tile * vec4s}>;
      var<workgroup> tileV : array<vec4<f32>, ${this.tile * vec4s}>;

      fn main(index : i32) {
        let lane = i32(localIndex);
        let b = i32(workgroupId.y);
        let tokens = uniforms.tokens;
        let total = uniforms.prefixLength + tokens;
        let i = i32(workgroupId.x) * LANES + lane;
        let rowValid = i < tokens;
        var q : array<vec4<f32>, HEAD_VEC4S>;
        if (rowValid) {
          for (var e = 0; e < HEAD_VEC4S; e++) {
            q[e] = queryRow(b * tokens + i, e) * uniforms.scale;
          }
        }

        var runningMax = MASKED;
        var runningSum = 0.0;
        var acc : array<vec4<f32>, HEAD_VEC4S>;
        for (var start = 0; start < total; start += TILE) {
          // The previous tile's readers are done before it is overwritten.
          workgroupBarrier();
          ${loadTile("tileK", "start", "total", "keyRow", "b * total")}
          ${loadTile("tileV", "start", "total", "valueRow", "b * total")}
          workgroupBarrier();

          for (var c = 0; c < TILE; c++) {
            let j = start + c;
            if (j >= total) {
              break;
            }
            var logit = 0.0;
            for (var e = 0; e < HEAD_VEC4S; e++) {
              logit += dot(q[e], tileK[c * HEAD_VEC4S + e]);
            }
            if (rowValid) {
              logit += biasAt(b, i, j);
            }
            // Online softmax one key at a time: a new maximum rescales what was accumulated
            // against the old one. (It grows a few times per row, so the branch is rarely taken;
            // keeping a tile's logits in an array instead makes llvmpipe's compile time explode.)
            if (logit > runningMax) {
              let rescale = exp(runningMax - logit);
              runningSum *= rescale;
              for (var e = 0; e < HEAD_VEC4S; e++) {
                acc[e] *= rescale;
              }
              runningMax = logit;
            }
            let p = exp(logit - runningMax);
            runningSum += p;
            for (var e = 0; e < HEAD_VEC4S; e++) {
              acc[e] += p * tileV[c * HEAD_VEC4S + e];
            }
          }
        }

        if (rowValid) {
          let outRow = (b * tokens + i) * (HEAD_DIM + 1);
          for (var e = 0; e < HEAD_VEC4S; e++) {
            writeVec4(outRow, e, acc[e] / runningSum);
          }
          result[outRow + HEAD_DIM] = runningMax + log(runningSum);
        }
      }
    `;
  }
}

/**
 * Backward, per query row: output `[B, T, d + h + w]`, dQ in the first `d` columns, then the
 * gradients of `relH` and `relW`. Each invocation owns one query row and walks the keys a tile at
 * a time, recomputing `P = exp(logit - logsumexp)` and the logit gradient
 * `dS = P * (dO·v - rowDelta)`; dQ sums `dS · k`, dRelH sums dS over each key row (keys come in
 * row-major order: a running sum, written when the key row changes) and dRelW over each key
 * column (accumulated in the output row, which only this invocation touches).
 */
class QueryGradProgram extends AttentionProgram {
  constructor(headDim: number, batch: number, tokens: number, size: number[], budget: number) {
    const outputShape = [batch, tokens, headDim + size[0]! + size[1]!];
    // A tile stages keys and values.
    super(BACKWARD_INPUTS, headDim, outputShape, tokens, 2 * paddedDim(headDim), budget);
  }

  getUserCode(): string {
    const vec4s = paddedDim(this.headDim) / 4;
    return `
      ${this.header(true)}
      var<workgroup> tileK : array<vec4<f32>, ${this.tile * vec4s}>;
      var<workgroup> tileV : array<vec4<f32>, ${this.tile * vec4s}>;

      fn main(index : i32) {
        let lane = i32(localIndex);
        let b = i32(workgroupId.y);
        let tokens = uniforms.tokens;
        let total = uniforms.prefixLength + tokens;
        let gridW = uniforms.gridW;
        let i = i32(workgroupId.x) * LANES + lane;
        let rowValid = i < tokens;
        let query = b * tokens + i;
        var q : array<vec4<f32>, HEAD_VEC4S>;
        var dO : array<vec4<f32>, HEAD_VEC4S>;
        var rowLogSumExp = 0.0;
        var rowDelta = 0.0;
        let outRow = query * (HEAD_DIM + uniforms.gridH + gridW);
        let gradHAt = outRow + HEAD_DIM;
        let gradWAt = gradHAt + uniforms.gridH;
        if (rowValid) {
          for (var e = 0; e < HEAD_VEC4S; e++) {
            q[e] = queryRow(query, e) * uniforms.scale;
            dO[e] = outputGradRow(query, e);
          }
          rowLogSumExp = rowStats[2 * query];
          rowDelta = rowStats[2 * query + 1];
          for (var kx = 0; kx < gridW; kx++) {
            result[gradWAt + kx] = 0.0;
          }
        }

        var gradHRow = 0;
        var gradHSum = 0.0;
        var dQ : array<vec4<f32>, HEAD_VEC4S>;
        for (var start = 0; start < total; start += TILE) {
          workgroupBarrier();
          ${loadTile("tileK", "start", "total", "keyRow", "b * total")}
          ${loadTile("tileV", "start", "total", "valueRow", "b * total")}
          workgroupBarrier();
          // No early exit: every invocation must reach the barriers.
          if (rowValid) {
            for (var c = 0; c < TILE; c++) {
              let j = start + c;
              if (j >= total) {
                break;
              }
              var qk = 0.0;
              var gv = 0.0;
              for (var e = 0; e < HEAD_VEC4S; e++) {
                qk += dot(q[e], tileK[c * HEAD_VEC4S + e]);
                gv += dot(dO[e], tileV[c * HEAD_VEC4S + e]);
              }
              let p = exp(qk + biasAt(b, i, j) - rowLogSumExp);
              let gradLogit = p * (gv - rowDelta);
              for (var e = 0; e < HEAD_VEC4S; e++) {
                dQ[e] += gradLogit * tileK[c * HEAD_VEC4S + e];
              }
              let t = j - uniforms.prefixLength;
              if (t >= 0) {
                let ky = t / gridW;
                if (ky != gradHRow) {
                  result[gradHAt + gradHRow] = gradHSum;
                  gradHRow = ky;
                  gradHSum = 0.0;
                }
                gradHSum += gradLogit;
                result[gradWAt + t % gridW] += gradLogit;
              }
            }
          }
        }

        if (rowValid) {
          result[gradHAt + gradHRow] = gradHSum;
          for (var e = 0; e < HEAD_VEC4S; e++) {
            writeVec4(outRow, e, dQ[e] * uniforms.scale);
          }
        }
      }
    `;
  }
}

/**
 * Backward, per key: output `[B, L + T, 2d]`, dK in the first `d` columns and dV in the rest,
 * prefix keys first. Each invocation owns one key (its key and value in registers) and walks the
 * query rows a tile at a time, recomputing each probability and logit gradient; dV sums `P · dO`
 * and dK sums `dS · q`. That is 4·d floats of registers per invocation (256 at head dim 64), which
 * some GPUs hold only by spilling.
 */
class KeyValueGradProgram extends AttentionProgram {
  constructor(headDim: number, batch: number, keyCount: number, budget: number) {
    // A tile stages queries, output gradients, and their rows' logsumexp and delta.
    super(
      BACKWARD_INPUTS,
      headDim,
      [batch, keyCount, 2 * headDim],
      keyCount,
      2 * paddedDim(headDim) + 2,
      budget,
    );
  }

  getUserCode(): string {
    const vec4s = paddedDim(this.headDim) / 4;
    return `
      ${this.header(true)}
      var<workgroup> tileQ : array<vec4<f32>, ${this.tile * vec4s}>;
      var<workgroup> tileDO : array<vec4<f32>, ${this.tile * vec4s}>;
      var<workgroup> tileStats : array<vec2<f32>, ${this.tile}>;

      fn main(index : i32) {
        let lane = i32(localIndex);
        let b = i32(workgroupId.y);
        let tokens = uniforms.tokens;
        let total = uniforms.prefixLength + tokens;
        let j = i32(workgroupId.x) * LANES + lane;
        let keyValid = j < total;
        var k : array<vec4<f32>, HEAD_VEC4S>;
        var v : array<vec4<f32>, HEAD_VEC4S>;
        if (keyValid) {
          for (var e = 0; e < HEAD_VEC4S; e++) {
            k[e] = keyRow(b * total + j, e) * uniforms.scale;
            v[e] = valueRow(b * total + j, e);
          }
        }

        var dK : array<vec4<f32>, HEAD_VEC4S>;
        var dV : array<vec4<f32>, HEAD_VEC4S>;
        for (var start = 0; start < tokens; start += TILE) {
          workgroupBarrier();
          ${loadTile("tileQ", "start", "tokens", "queryRow", "b * tokens")}
          ${loadTile("tileDO", "start", "tokens", "outputGradRow", "b * tokens")}
          for (var r = lane; r < TILE; r += LANES) {
            var stats = vec2<f32>(0.0);
            if (start + r < tokens) {
              let query = b * tokens + start + r;
              stats = vec2<f32>(rowStats[2 * query], rowStats[2 * query + 1]);
            }
            tileStats[r] = stats;
          }
          workgroupBarrier();
          // No early exit: every invocation must reach the barriers.
          if (keyValid) {
            for (var r = 0; r < TILE; r++) {
              let i = start + r;
              if (i >= tokens) {
                break;
              }
              var qk = 0.0;
              var gv = 0.0;
              for (var e = 0; e < HEAD_VEC4S; e++) {
                qk += dot(tileQ[r * HEAD_VEC4S + e], k[e]);
                gv += dot(tileDO[r * HEAD_VEC4S + e], v[e]);
              }
              let stats = tileStats[r];
              let p = exp(qk + biasAt(b, i, j) - stats.x);
              let gradLogit = p * (gv - stats.y);
              for (var e = 0; e < HEAD_VEC4S; e++) {
                dV[e] += p * tileDO[r * HEAD_VEC4S + e];
                dK[e] += gradLogit * tileQ[r * HEAD_VEC4S + e];
              }
            }
          }
        }

        if (keyValid) {
          let outRow = (b * total + j) * 2 * HEAD_DIM;
          for (var e = 0; e < HEAD_VEC4S; e++) {
            writeVec4(outRow, e, dK[e] * uniforms.scale);
            writeVec4(outRow + HEAD_DIM, e, dV[e]);
          }
        }
      }
    `;
  }
}

function run(program: WebGPUProgram, inputs: Tensor[], geometry: AttentionGeometry): Tensor {
  const info = webgpuBackend().runWebGPUProgram(
    program,
    inputs,
    "float32",
    uniformValues(geometry),
  );
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Columns `[from, from + count)` of a `[B, rows, cols]` tensor. */
function columns(t: Tensor, from: number, count: number): Tensor {
  const [batch, rows] = t.shape as [number, number, number];
  return t.slice([0, 0, from], [batch, rows, count]);
}

/**
 * The kernels as one `tf.customGrad` op over flattened heads. Inputs: q, k, v `[B, T, d]`
 * (q unscaled), biases `[B, T, h]` and `[B, T, w]`, and with `hasPrefix` prefix keys and values
 * `[B, L, d]`. Output `[B, T, d]`.
 */
function fusedCore(
  headDim: number,
  size: [number, number],
  hasPrefix: boolean,
): (...inputs: Tensor[]) => Tensor {
  const d = headDim;
  const [h, w] = size;
  const scale = 1 / Math.sqrt(d);

  function backward(dy: Tensor, saved: Tensor[]): Tensor[] {
    return tf.tidy(() => {
      const [queries, keys, values, biases, out, logSumExp] = saved as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      const [batch, tokens] = queries.shape as [number, number, number];
      const prefixLength = keys.shape[1]! - tokens;
      const geometry = { tokens, prefixLength, size, scale };
      const budget = storageBudgetFloats(webgpuBackend());
      const rowDelta = tf.sum(tf.mul(dy, out), 2); // [B, T]
      const rowStats = tf.stack([logSumExp, rowDelta], 2); // [B, T, 2]
      const inputs = [queries, keys, values, biases, rowStats, dy];
      const queryGrads = run(
        new QueryGradProgram(d, batch, tokens, size, budget),
        inputs,
        geometry,
      ); // [B, T, d + h + w]
      const keyValueGrads = run(
        new KeyValueGradProgram(d, batch, prefixLength + tokens, budget),
        inputs,
        geometry,
      ); // [B, L + T, 2d]
      const dKeys = columns(keyValueGrads, 0, d);
      const dValues = columns(keyValueGrads, d, d);
      const spatial = (t: Tensor) => t.slice([0, prefixLength, 0], [batch, tokens, d]);
      const grads = [
        columns(queryGrads, 0, d),
        spatial(dKeys),
        spatial(dValues),
        columns(queryGrads, d, h),
        columns(queryGrads, d + h, w),
      ];
      if (hasPrefix) {
        const prefix = (t: Tensor) => t.slice([0, 0, 0], [batch, prefixLength, d]);
        grads.push(prefix(dKeys), prefix(dValues));
      }
      return grads;
    });
  }

  return tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [queries, k, v, biasH, biasW, prefixK, prefixV] = args as Tensor[];
    const [batch, tokens] = queries!.shape as [number, number, number];
    // WebGPU allows 8 storage buffers per kernel by default: the kernels read the keys and the
    // values (prefixes first) and the two biases as one buffer each.
    const keys = hasPrefix ? tf.concat([prefixK!, k!], 1) : k!; // [B, L + T, d]
    const values = hasPrefix ? tf.concat([prefixV!, v!], 1) : v!;
    const biases = tf.concat([biasH!, biasW!], 2); // [B, T, h + w]
    const geometry = { tokens, prefixLength: keys.shape[1]! - tokens, size, scale };
    const packed = run(
      new ForwardProgram(d, batch, tokens, storageBudgetFloats(webgpuBackend())),
      [queries!, keys, values, biases],
      geometry,
    ); // [B, T, d + 1]
    const value = columns(packed, 0, d); // [B, T, d]
    const logSumExp = columns(packed, d, 1).reshape([batch, tokens]);
    // Backward gets these, the output and one logsumexp per row: O(B·T·d) in all.
    save([queries!, keys, values, biases, value, logSumExp]);
    return { value, gradFunc: backward };
  });
}

/** Layout of {@link fusedAttention} and {@link fusedAttentionWithBiases}. */
export interface FusedAttentionOptions {
  /** `[h, w]`: the T = h * w tokens form this grid, row-major. */
  size: [number, number];
}

/** The flattened heads and relative biases {@link fusedAttentionWithBiases} attends with. */
export interface BiasedAttentionInputs {
  /** `[B, T, headDim]` queries, unscaled; B = batch * heads. */
  query: Tensor;
  /** `[B, T, headDim]` keys. */
  key: Tensor;
  /** `[B, T, headDim]` values. */
  value: Tensor;
  /** `[B, T, h]`: added to the logit of query i on every key in key row ky. */
  biasH: Tensor;
  /** `[B, T, w]`: added to the logit of query i on every key in key column kx. */
  biasW: Tensor;
  /** Optional `[B, L, headDim]` keys before the spatial ones, with no bias. */
  prefixKeys?: Tensor;
  /** `[B, L, headDim]` values for {@link prefixKeys}; given exactly when they are. */
  prefixValues?: Tensor;
}

function checkWebGPU(caller: string): void {
  if (tf.getBackend() !== "webgpu") {
    throw new Error(`${caller} runs on the webgpu backend only, not on ${tf.getBackend()}`);
  }
}

/**
 * The fused kernels on flattened heads with the relative terms already reduced to biases
 * (what {@link fusedAttention} runs after {@link relativeBiases}): `softmax([q·Pkᵀ,
 * q·kᵀ + biasH[ky] + biasW[kx]] / sqrt(headDim) ...) · [Pv; v]`, with gradients for every input.
 *
 * @returns `[B, T, headDim]`.
 * @throws {Error} on any backend other than webgpu.
 *
 * @example
 * ```ts ignore
 * import { tf } from "../backend/tf.ts";
 * import { useBackend } from "../backend/backend.ts";
 * await useBackend("webgpu");
 * const q = tf.randomNormal([2, 12, 4]); // [B, T = 3 * 4, headDim]
 * const out = fusedAttentionWithBiases(
 *   { query: q, key: q, value: q, biasH: tf.zeros([2, 12, 3]), biasW: tf.zeros([2, 12, 4]) },
 *   { size: [3, 4] },
 * );
 * out.shape; // [2, 12, 4]
 * ```
 */
export function fusedAttentionWithBiases(
  inputs: BiasedAttentionInputs,
  options: FusedAttentionOptions,
): Tensor {
  const { query, key, value, biasH, biasW, prefixKeys, prefixValues } = inputs;
  const [batch, tokens, headDim] = query.shape as [number, number, number];
  const [h, w] = options.size;
  const caller = "fusedAttentionWithBiases()";
  checkWebGPU(caller);
  if (h * w !== tokens) {
    throw new RangeError(`${caller}: size [${h}, ${w}] does not hold ${tokens} tokens`);
  }
  // `undefined` in `shape`: any length.
  const expectShape = (name: string, t: Tensor | undefined, shape: Array<number | undefined>) => {
    if (
      t && (t.rank !== shape.length || shape.some((s, k) => s !== undefined && t.shape[k] !== s))
    ) {
      const expected = shape.map((s) => s ?? "L").join(", ");
      throw new TypeError(`${caller}: ${name} has shape [${t.shape}], expected [${expected}]`);
    }
  };
  expectShape("key", key, [batch, tokens, headDim]);
  expectShape("value", value, [batch, tokens, headDim]);
  expectShape("biasH", biasH, [batch, tokens, h]);
  expectShape("biasW", biasW, [batch, tokens, w]);
  if ((prefixKeys === undefined) !== (prefixValues === undefined)) {
    throw new TypeError(`${caller}: give prefixKeys and prefixValues together`);
  }
  expectShape("prefixKeys", prefixKeys, [batch, undefined, headDim]);
  expectShape("prefixValues", prefixValues, [batch, prefixKeys?.shape[1], headDim]);
  if (prefixKeys && prefixKeys.shape[1] === 0) {
    throw new RangeError(`${caller}: prefixKeys has no keys; leave it out instead`);
  }
  const core = fusedCore(headDim, [h, w], prefixKeys !== undefined);
  const coreInputs = [query, key, value, biasH, biasW];
  if (prefixKeys && prefixValues) coreInputs.push(prefixKeys, prefixValues);
  return core(...coreInputs);
}

/**
 * Encoder attention through the fused WGSL kernels (webgpu backend only): the same result and
 * gradients as the plain path in `attention.ts` and as `chunkedAttention`, in O(B·T·d) memory.
 *
 * @returns `[N, heads, T, headDim]`, before the heads are merged and projected.
 * @throws {Error} on any backend other than webgpu.
 *
 * @example
 * ```ts ignore
 * import { tf } from "../backend/tf.ts";
 * import { useBackend } from "../backend/backend.ts";
 * await useBackend("webgpu");
 * const q = tf.randomNormal([1, 2, 12, 4]); // [N, heads, T = 3 * 4, headDim]
 * const out = fusedAttention(
 *   { query: q, key: q, value: q, relPosH: tf.zeros([5, 4]), relPosW: tf.zeros([7, 4]) },
 *   { size: [3, 4] },
 * );
 * out.shape; // [1, 2, 12, 4]
 * ```
 */
export function fusedAttention(
  inputs: ChunkedAttentionInputs,
  options: FusedAttentionOptions,
): Tensor {
  const { query, key, value, relPosH, relPosW, prefixKeys, prefixValues } = inputs;
  const [n, heads, tokens, headDim] = query.shape as [number, number, number, number];
  const [h, w] = options.size;
  checkWebGPU("fusedAttention()");
  if (h * w !== tokens) {
    throw new RangeError(`fusedAttention(): size [${h}, ${w}] does not hold ${tokens} tokens`);
  }
  return tf.tidy(() => {
    const batch = n * heads;
    const flat = (t: Tensor) => t.reshape([batch, -1, headDim]); // [N*heads, rows, hd]
    const q = flat(query); // [B, T, hd]
    const [biasH, biasW] = relativeBiases(q, relPosH, relPosW, options.size); // [B, T, h], [B, T, w]
    return fusedAttentionWithBiases({
      query: q,
      key: flat(key),
      value: flat(value),
      biasH,
      biasW,
      ...(prefixKeys && prefixValues
        ? { prefixKeys: flat(prefixKeys), prefixValues: flat(prefixValues) }
        : {}),
    }, options).reshape([n, heads, tokens, headDim]);
  });
}
