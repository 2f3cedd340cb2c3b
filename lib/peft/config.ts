/**
 * The configuration of a fine-tuning method: which PEFT modules go into the image encoder and
 * their sizes. Checked once, at the boundary, by {@link validatePeftConfig}.
 *
 * @module
 */
import { isMethodName, METHOD_NAMES, type MethodName } from "./registry.ts";

/** How adapters are trained: as plain bottlenecks, or as MoSA's sparse experts. */
export type AdapterKind = "plain" | "mosa";

/**
 * Which adapter projection MoSA keeps as one dense tensor trained every step (`down`, the
 * reference scripts' default; `up`), or `none` (both split into experts).
 */
export type MosaShare = "down" | "up" | "none";

/** Every {@link MosaShare}, in the order `--mosa-share` lists them. */
export const MOSA_SHARES: readonly MosaShare[] = ["down", "up", "none"];

/** Every hyperparameter of the PEFT modules (defaults from the MoPEFT thesis). */
export interface PeftConfig {
  /** The method (see `METHODS` in registry.ts): `decoder`, `full`, `lora`, `prefix`, `vpt`, `adapter`, `mosa`, `mopeft`. */
  method: MethodName;
  /** LoRA rank r: each of q and v gets a `[D, r] x [r, D]` low-rank update. Default 8. */
  loraRank: number;
  /**
   * LoRA alpha: the ungated update is scaled by alpha / r. Default equals the rank (scale 1). In
   * `mopeft` the learned LoRA gate replaces this scale.
   */
  loraAlpha: number;
  /** Prefix length L: learned key and value vectors prepended in each block. Default 20. */
  prefixLength: number;
  /**
   * Hidden width of the reparameterisation MLP that produces the prefixes during training (Li &
   * Liang). After training the prefixes are stored flat and the MLP is dropped. Default 64.
   */
  prefixHidden: number;
  /** Adapter bottleneck width D_mid. Default 64. */
  adapterDim: number;
  /** Adapter training scheme: `plain`, or `mosa` (K sparse experts, drawn per step, averaged after). */
  adapterKind: AdapterKind;
  /**
   * MoSA experts K: each split projection is trained as K copies, each owning a fixed random
   * 1/K of the entries. Default 4 (the reference scripts' EXPERT_NUM).
   */
  mosaParts: number;
  /** MoSA: the projection kept dense and shared by all experts. Default `down`. */
  mosaShare: MosaShare;
  /**
   * MoSA: weight W of the consistency term (a second forward pass with fresh expert draws, and
   * W x the symmetric KL divergence between the two passes' per-pixel class distributions). 0
   * turns it off. Default 1 (the reference scripts' REG_WEIGHT).
   */
  mosaConsistency: number;
  /** A gate counts as "calling" its method when its value exceeds this. Default 0.5. */
  gateThreshold: number;
}

/** The thesis's defaults, for a given method. */
export function defaultPeftConfig(method: MethodName): PeftConfig {
  return {
    method,
    loraRank: 8,
    loraAlpha: 8,
    prefixLength: 20,
    prefixHidden: 64,
    adapterDim: 64,
    adapterKind: method === "mosa" ? "mosa" : "plain",
    mosaParts: 4,
    mosaShare: "down",
    mosaConsistency: 1,
    gateThreshold: 0.5,
  };
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks a (possibly partial, possibly user-written) configuration and fills in the defaults.
 * Throws a `RangeError` naming the field and the value found.
 *
 * @example
 * ```ts
 * const config = validatePeftConfig({ method: "lora", loraRank: 4 });
 * config.loraAlpha; // 4: alpha defaults to the rank
 * ```
 */
export function validatePeftConfig(
  input: Omit<Partial<PeftConfig>, "method"> & { method: string },
): PeftConfig {
  if (!isMethodName(input.method)) {
    throw new RangeError(
      `unknown method "${input.method}" (known: ${METHOD_NAMES.join(", ")})`,
    );
  }
  const config = { ...defaultPeftConfig(input.method), ...stripUndefined(input) } as PeftConfig;
  if (input.loraAlpha === undefined) config.loraAlpha = config.loraRank;
  positiveInteger("loraRank", config.loraRank);
  if (typeof config.loraAlpha !== "number" || !(config.loraAlpha > 0)) {
    throw new RangeError(`loraAlpha must be a positive number, got ${config.loraAlpha}`);
  }
  positiveInteger("prefixLength", config.prefixLength);
  positiveInteger("prefixHidden", config.prefixHidden);
  positiveInteger("adapterDim", config.adapterDim);
  positiveInteger("mosaParts", config.mosaParts);
  if (config.adapterKind !== "plain" && config.adapterKind !== "mosa") {
    throw new RangeError(`adapterKind must be "plain" or "mosa", got "${config.adapterKind}"`);
  }
  if (input.method === "mosa" && config.adapterKind !== "mosa") {
    throw new RangeError(`method "mosa" needs adapterKind "mosa", got "${config.adapterKind}"`);
  }
  if (config.mosaParts > 255) {
    throw new RangeError(`mosaParts must be at most 255, got ${config.mosaParts}`);
  }
  if (!MOSA_SHARES.includes(config.mosaShare)) {
    throw new RangeError(
      `mosaShare must be one of ${MOSA_SHARES.join(", ")}, got ${JSON.stringify(config.mosaShare)}`,
    );
  }
  if (
    typeof config.mosaConsistency !== "number" || !Number.isFinite(config.mosaConsistency) ||
    config.mosaConsistency < 0
  ) {
    throw new RangeError(
      `mosaConsistency must be a non-negative number, got ${
        JSON.stringify(config.mosaConsistency)
      }`,
    );
  }
  if (
    typeof config.gateThreshold !== "number" || !(config.gateThreshold > 0) ||
    !(config.gateThreshold < 1)
  ) {
    throw new RangeError(`gateThreshold must lie in (0, 1), got ${config.gateThreshold}`);
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
