/**
 * The one list of fine-tuning methods. Each entry says which PEFT modules the method puts into
 * the image encoder and whether gates mix them; nothing else in the project lists the methods.
 *
 * @module
 */

/** The PEFT modules that can live in an encoder block. */
export type ModuleKind = "lora" | "prefix" | "vpt" | "adapter";

/** What one method trains. */
export interface MethodSpec {
  /** One line for `--help` and the README. */
  description: string;
  /** PEFT modules inserted into the encoder (the mask decoder is trained by every method). */
  modules: readonly ModuleKind[];
  /** True when learned gates scale each module (Mixture of PEFTs). */
  gated: boolean;
  /** True when every image-encoder weight is trained as well (full fine-tuning). */
  trainsEncoder: boolean;
}

/** Every method, by the name `--method` takes. */
export const METHODS = {
  decoder: {
    description: "mask decoder only; the image encoder stays frozen",
    modules: [],
    gated: false,
    trainsEncoder: false,
  },
  full: {
    description: "full fine-tuning of the image encoder and the mask decoder",
    modules: [],
    gated: false,
    trainsEncoder: true,
  },
  lora: {
    description: "LoRA on q and v of every block's fused qkv projection",
    modules: ["lora"],
    gated: false,
    trainsEncoder: false,
  },
  prefix: {
    description: "prefix tuning (VPT-Deep): learned key/value prefixes in every block",
    modules: ["prefix"],
    gated: false,
    trainsEncoder: false,
  },
  vpt: {
    description: "visual prompt tuning (shallow): learned key/value prefixes in the first block",
    modules: ["vpt"],
    gated: false,
    trainsEncoder: false,
  },
  adapter: {
    description: "bottleneck adapter after every block's MLP",
    modules: ["adapter"],
    gated: false,
    trainsEncoder: false,
  },
  mosa: {
    description:
      "sparse adapters (MoSA): K sparse expert copies drawn per step, merged by their mean",
    modules: ["adapter"],
    gated: false,
    trainsEncoder: false,
  },
  mopeft: {
    description: "Mixture of PEFTs: gated LoRA + prefix + adapter in every block",
    modules: ["lora", "prefix", "adapter"],
    gated: true,
    trainsEncoder: false,
  },
} as const satisfies Record<string, MethodSpec>;

/** A method name `--method` accepts. */
export type MethodName = keyof typeof METHODS;

/** Every method name, in the registry's order. */
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/**
 * The spec of method `name`, typed as a plain {@link MethodSpec} (the `METHODS` literal types are
 * too narrow to ask, say, whether a module list includes "adapter").
 *
 * @example
 * ```ts
 * methodSpec("mopeft").modules; // ["lora", "prefix", "adapter"]
 * ```
 */
export function methodSpec(name: MethodName): MethodSpec {
  return METHODS[name];
}

/** Tells whether `name` is a known method. */
export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}
