/**
 * The exact (erf) GELU that SAM uses.
 *
 * On the wasm and cpu backends it runs as one fused kernel (with its own gradient kernel) over the
 * tensor's memory: composed of tfjs ops it takes five passes (two scalings, erf, add, multiply),
 * and tfjs-backend-wasm's `Erf` alone costs 200 ms per vit_b MLP at 1024 px, about a tenth of
 * the encoder's forward once matrix products run natively. On wasm both kernels run as
 * WebAssembly SIMD loops on the backend's heap (`gelu_simd.ts`), and the gradient is one kernel
 * over `x` and `dy`; elsewhere (webgpu) GELU is composed of tfjs ops.
 *
 * @module
 */
import { type Tensor, tf } from "../backend/tf.ts";
import { wasmHeapModule } from "../backend/wasm_heap_module.ts";
import { type HostBackendName, hostMemory, type TensorInfo } from "../backend/host_memory.ts";
import { type GeluSimd, geluSimd } from "./gelu_simd.ts";

const GELU_KERNEL = "MopeftGelu";
const NORMAL_CDF_KERNEL = "MopeftNormalCdf";
const GELU_GRADIENT_KERNEL = "MopeftGeluGradient";
const HOST_BACKENDS: HostBackendName[] = ["wasm", "cpu"];

// A rational approximation of erf on [-4, 4] (the form Eigen and XLA use for float32), within
// 4e-7 of the true value everywhere; outside that range erf is ±1 to float32 precision. Written
// out as Horner steps: this loop runs over every MLP activation.

/** erf(x), within 4e-7. */
export function erfApprox(value: number): number {
  const x = value < -4 ? -4 : value > 4 ? 4 : value;
  const x2 = x * x;
  let p = -2.72614225801306e-10;
  p = p * x2 + 2.77068142495902e-08;
  p = p * x2 - 2.10102402082508e-06;
  p = p * x2 - 5.69250639462346e-05;
  p = p * x2 - 7.34990630326855e-04;
  p = p * x2 - 2.95459980854025e-03;
  p = p * x2 - 1.60960333262415e-02;
  let q = -1.45660718464996e-05;
  q = q * x2 - 2.13374055278905e-04;
  q = q * x2 - 1.68282697438203e-03;
  q = q * x2 - 7.37332916720468e-03;
  q = q * x2 - 1.42647390514189e-02;
  return (x * p) / q;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function geluValues(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = 0.5 * v * (1 + erfApprox(v * Math.SQRT1_2));
  }
}

function normalCdfValues(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = 0.5 * (1 + erfApprox(x[i]! * Math.SQRT1_2));
}

/** The SIMD loops over the wasm backend's heap, or undefined where they cannot run. */
function simdFor(backend: unknown): GeluSimd | undefined {
  return wasmHeapModule(backend, geluSimd);
}

/** Whether GELU's gradient runs as one SIMD kernel on the active backend. */
function simdGradient(): boolean {
  return tf.getBackend() === "wasm" && simdFor(tf.backend()) !== undefined;
}

// Elementwise kernels over float32 memory, one per host backend.
for (
  const [kernelName, compute] of [
    [GELU_KERNEL, geluValues],
    [NORMAL_CDF_KERNEL, normalCdfValues],
  ] as const
) {
  for (const backendName of HOST_BACKENDS) {
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const { x } = inputs as unknown as { x: TensorInfo };
        const memory = hostMemory(backendName, backend);
        const output = memory.allocate(x.shape);
        const simd = kernelName === GELU_KERNEL && backendName === "wasm"
          ? simdFor(backend)
          : undefined;
        const input = memory.read(x);
        const out = output.values();
        // The SIMD loop takes four values at a time; the last few go through the loop here.
        const vectorised = simd ? input.length & ~3 : 0;
        if (simd) simd.gelu(input.byteOffset, out.byteOffset, vectorised);
        compute(input.subarray(vectorised), out.subarray(vectorised));
        return output.info as ReturnType<tf.KernelFunc>;
      },
    });
  }
}
tf.registerKernel({
  kernelName: GELU_GRADIENT_KERNEL,
  backendName: "wasm",
  kernelFunc: ({ inputs, backend }) => {
    const { x, dy } = inputs as unknown as { x: TensorInfo; dy: TensorInfo };
    const memory = hostMemory("wasm", backend);
    const output = memory.allocate(x.shape);
    const [xs, dys, out] = [memory.read(x), memory.read(dy), output.values()];
    const vectorised = xs.length & ~3;
    simdFor(backend)!.geluGradient(xs.byteOffset, dys.byteOffset, out.byteOffset, vectorised);
    for (let i = vectorised; i < xs.length; i++) {
      const v = xs[i]!;
      const density = INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      out[i] = dys[i]! * (0.5 * (1 + erfApprox(v * Math.SQRT1_2)) + v * density);
    }
    return output.info as ReturnType<tf.KernelFunc>;
  },
});
tf.registerGradient({
  kernelName: GELU_KERNEL,
  inputsToSave: ["x"],
  // d/dx [x Φ(x)] = Φ(x) + x φ(x). Without SIMD, Φ comes from the same erf loop and φ's exp
  // stays a tfjs op, which runs faster on wasm than Math.exp does in a loop here.
  gradFunc: (dy, saved) => ({
    x: () =>
      tf.tidy(() => {
        const x = saved[0]!;
        if (x.dtype === "float32" && simdGradient()) {
          return tf.engine().runKernel(GELU_GRADIENT_KERNEL, { x, dy: dy as Tensor }) as Tensor;
        }
        const cdf = tf.engine().runKernel(NORMAL_CDF_KERNEL, { x }) as Tensor;
        const density = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
        return tf.mul(dy as Tensor, tf.add(cdf, tf.mul(x, density)));
      }),
  }),
});

/**
 * `x · Φ(x) = 0.5 · x · (1 + erf(x / √2))`, the exact form (PyTorch's `nn.GELU()` default), not
 * the tanh approximation.
 *
 * @example
 * ```ts
 * import { tf } from "../backend/tf.ts";
 * gelu(tf.tensor1d([0])).dataSync()[0]; // 0
 * ```
 */
export function gelu(x: Tensor): Tensor {
  if (x.dtype === "float32" && (HOST_BACKENDS as string[]).includes(tf.getBackend())) {
    return tf.engine().runKernel(GELU_KERNEL, { x }) as Tensor;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}
