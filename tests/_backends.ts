/**
 * Test helpers: run a test on every backend that can run here, compare arrays with a tolerance.
 *
 * @module
 */
import { useBackend } from "../lib/backend/backend.ts";
import { tf } from "../lib/backend/tf.ts";

type TestBackend = "cpu" | "wasm" | "webgpu";
const TEST_BACKENDS: readonly TestBackend[] = ["cpu", "wasm", "webgpu"];

/**
 * Backends the parity tests run on: cpu always, wasm, and webgpu where an adapter exists.
 * `MOPEFT_TEST_BACKENDS=webgpu` (a comma-separated list) runs the named ones only, and fails
 * rather than skips when webgpu is named and no adapter exists, so that a GPU check cannot pass
 * on zero backends.
 */
export async function availableBackends(): Promise<TestBackend[]> {
  const gpu = (globalThis.navigator as { gpu?: GPU }).gpu;
  const hasAdapter = async () => gpu !== undefined && await gpu.requestAdapter() !== null;
  const named = Deno.env.get("MOPEFT_TEST_BACKENDS");
  if (named !== undefined && named.trim() !== "") {
    const backends = named.split(",").map((b) => b.trim()).filter((b) => b !== "");
    for (const backend of backends) {
      if (!TEST_BACKENDS.includes(backend as TestBackend)) {
        throw new Error(`MOPEFT_TEST_BACKENDS: unknown backend "${backend}"`);
      }
    }
    if (backends.includes("webgpu") && !await hasAdapter()) {
      throw new Error("MOPEFT_TEST_BACKENDS names webgpu, but no WebGPU adapter was found");
    }
    return backends as TestBackend[];
  }
  const backends: TestBackend[] = ["cpu", "wasm"];
  if (Deno.env.get("MOPEFT_TEST_WEBGPU") !== "0" && await hasAdapter()) backends.push("webgpu");
  return backends;
}

/** Switches tfjs to `backend`. */
export async function onBackend(backend: TestBackend): Promise<void> {
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

/**
 * {@link assertSameRun}'s bound for weights after training steps: Adam's normalised steps carry a
 * rounding difference in a small gradient much further than one product does.
 */
export const TRAINED = 1e-4;

/**
 * Throws unless two runs of one computation agree within float32 rounding: every element of
 * `actual` within `relative` of `expected`'s largest magnitude (taken as at least 1).
 *
 * In a process of its own they agree bit for bit, but the test files that `deno test --parallel`
 * runs side by side share one OpenBLAS, whose thread count kernel threads set to 1 while they
 * split a batch: a product that another file makes meanwhile is split over another number of
 * threads, which OpenBLAS's Haswell and Zen kernels round differently.
 */
export function assertSameRun(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what = "values",
  relative = 1e-5,
): void {
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  assertAllClose(actual, expected, relative * scale, what);
}

/** Reads a tensor's values and disposes it. */
export async function take(tensor: tf.Tensor): Promise<Float32Array> {
  const values = await tensor.data() as Float32Array;
  tensor.dispose();
  return values;
}
