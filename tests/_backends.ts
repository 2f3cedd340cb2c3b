/**
 * Test helpers: run a test on every backend that can run here, compare arrays with a tolerance.
 *
 * @module
 */
import { useBackend } from "../lib/backend/backend.ts";
import { tf } from "../lib/backend/tf.ts";

/** Backends the parity tests run on: cpu always, wasm, and webgpu where an adapter exists. */
export async function availableBackends(): Promise<Array<"cpu" | "wasm" | "webgpu">> {
  const backends: Array<"cpu" | "wasm" | "webgpu"> = ["cpu", "wasm"];
  const gpu = (globalThis.navigator as { gpu?: GPU }).gpu;
  if (Deno.env.get("MOPEFT_TEST_WEBGPU") !== "0" && gpu && await gpu.requestAdapter()) {
    backends.push("webgpu");
  }
  return backends;
}

/** Switches tfjs to `backend`. */
export async function onBackend(backend: "cpu" | "wasm" | "webgpu"): Promise<void> {
  await useBackend(backend);
}

/** The largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Throws unless every element of `actual` is within `tolerance` of `expected`. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what = "values",
): void {
  const diff = maxAbsDiff(actual, expected);
  if (!(diff <= tolerance)) {
    throw new Error(`${what}: max abs difference ${diff} exceeds ${tolerance}`);
  }
}

/** Reads a tensor's values and disposes it. */
export async function take(tensor: tf.Tensor): Promise<Float32Array> {
  const values = await tensor.data() as Float32Array;
  tensor.dispose();
  return values;
}
