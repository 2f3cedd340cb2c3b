/**
 * A description of the machine a benchmark ran on.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { WebGpuLimits } from "../backend/backend.ts";

/** The machine, the runtime and the tfjs backend. */
export interface MachineInfo {
  /** CPU model name (Linux `/proc/cpuinfo`), or null where unreadable. */
  cpu: string | null;
  /** Logical cores available to this process. */
  cores: number;
  /** Total memory, GiB (null where unknown). */
  memoryGiB: number | null;
  /** Operating system and architecture, e.g. `linux x86_64`. */
  os: string;
  /** Deno's version. */
  deno: string;
  /** tfjs-core's version. */
  tfjs: string;
  /** The active tfjs backend. */
  backend: string;
  /** The WebGPU adapter's description, when one was found. */
  adapter: string | null;
  /** True when the adapter is a software rasteriser. */
  softwareAdapter: boolean | null;
  /** The native BLAS library running matrix products (wasm and cpu backends), if any. */
  blas: string | null;
  /** The WebGPU device's size limits, on the webgpu backend. */
  deviceLimits: WebGpuLimits | null;
  /** How the backend was chosen and set up (threads, fallbacks), as `--verbose` prints it. */
  backendNote: string | null;
}

/**
 * Describes this machine; `adapter` facts come from the backend choice.
 *
 * @example
 * ```ts ignore
 * const machine = machineInfo({ adapter: choice.adapter, softwareAdapter: choice.softwareAdapter });
 * machine.cores; // 2
 * ```
 */
export function machineInfo(
  gpu: {
    adapter?: string;
    softwareAdapter?: boolean;
    blas?: string;
    deviceLimits?: WebGpuLimits;
    reason?: string;
  } = {},
): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: navigator.hardwareConcurrency,
    memoryGiB: totalMemoryGiB(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    adapter: gpu.adapter ?? null,
    softwareAdapter: gpu.softwareAdapter ?? null,
    blas: gpu.blas ?? null,
    deviceLimits: gpu.deviceLimits ?? null,
    backendNote: gpu.reason ?? null,
  };
}

function cpuModel(): string | null {
  try {
    const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
    return cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? null;
  } catch {
    return null;
  }
}

function totalMemoryGiB(): number | null {
  try {
    return Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10;
  } catch {
    return null;
  }
}
