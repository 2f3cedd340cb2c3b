/**
 * Finding the WebGPU adapter (Deno's `navigator.gpu` and a browser's alike).
 *
 * @module
 */

/** The WebGPU adapter a backend would run on. */
export interface AdapterFacts {
  /** Its description, vendor and architecture, e.g. "llvmpipe (LLVM 19.1.7, 256 bits) mesa". */
  description: string;
  software: boolean;
}

/**
 * The high-performance adapter `navigator.gpu` offers, if any, and whether it is a software
 * rasteriser (llvmpipe, lavapipe, SwiftShader).
 */
export async function probeAdapter(): Promise<AdapterFacts | undefined> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return undefined;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return undefined;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const description = [info.description, info.vendor, info.architecture]
    .filter((part) => part && !/^\d+$/.test(part))
    .join(" ") || "unknown adapter";
  const software = info.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(description);
  return { description, software };
}
