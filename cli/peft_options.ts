/**
 * The options that configure a fine-tuning method (`--method`, `--lora-rank`, ...).
 *
 * @module
 */
import { type Command, Option } from "commander";
import {
  MOSA_SHARES,
  type MosaShare,
  type PeftConfig,
  validatePeftConfig,
} from "../lib/peft/config.ts";
import { METHOD_NAMES } from "../lib/peft/registry.ts";
import { UsageError } from "./io.ts";
import { nonNegativeNumber, openFraction, positiveInteger, positiveNumber } from "./options.ts";

/** The PEFT options as commander parses them. */
export interface PeftOptions {
  method: string;
  loraRank?: number;
  loraAlpha?: number;
  prefixLength?: number;
  prefixHidden?: number;
  adapterDim?: number;
  adapterKind?: "plain" | "mosa";
  mosaParts?: number;
  mosaShare?: MosaShare;
  mosaConsistency?: number;
  gateThreshold?: number;
}

/** Adds `--method` and every PEFT hyperparameter option to `command`. */
export function addPeftOptions(command: Command, methodRequired = true): Command {
  const method = new Option(
    "--method <name>",
    methodRequired ? "fine-tuning method" : "fine-tuning method (required, unless --resume)",
  ).choices(METHOD_NAMES);
  if (methodRequired) method.makeOptionMandatory();
  return command
    .addOption(method)
    .option("--lora-rank <r>", "LoRA rank (default 8)", positiveInteger)
    .option("--lora-alpha <alpha>", "LoRA alpha; scale alpha/r (default: the rank)", positiveNumber)
    .option("--prefix-length <L>", "prefix length (default 20)", positiveInteger)
    .option(
      "--prefix-hidden <n>",
      "prefix reparameterisation MLP width (default 64)",
      positiveInteger,
    )
    .option("--adapter-dim <n>", "adapter bottleneck width D_mid (default 64)", positiveInteger)
    .addOption(
      new Option("--adapter-kind <kind>", "adapter training: plain, or MoSA's sparse experts")
        .choices(["plain", "mosa"]),
    )
    .option("--mosa-parts <K>", "MoSA experts per split projection (default 4)", positiveInteger)
    .addOption(
      new Option(
        "--mosa-share <down|up|none>",
        "MoSA: the adapter projection kept dense and shared (default down), or none",
      ).choices([...MOSA_SHARES]),
    )
    .option(
      "--mosa-consistency <W>",
      "MoSA: weight of the two-pass symmetric-KL consistency term (default 1; 0 turns it off)",
      nonNegativeNumber,
    )
    .option(
      "--gate-threshold <t>",
      "a gate above this calls its method (default 0.5)",
      openFraction,
    );
}

/** Builds the checked PEFT configuration; a bad combination is a usage error. */
export function peftConfigFromOptions(options: PeftOptions): PeftConfig {
  try {
    return validatePeftConfig({
      method: options.method,
      loraRank: options.loraRank,
      loraAlpha: options.loraAlpha,
      prefixLength: options.prefixLength,
      prefixHidden: options.prefixHidden,
      adapterDim: options.adapterDim,
      adapterKind: options.adapterKind,
      mosaParts: options.mosaParts,
      mosaShare: options.mosaShare,
      mosaConsistency: options.mosaConsistency,
      gateThreshold: options.gateThreshold,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
