/**
 * Whether the official PyTorch benchmark fits the machine's memory, decided before it is launched:
 * a run that exhausted it would take the machine down with it (no swap on these machines), so
 * `bench` first runs it small and extrapolates.
 *
 * PyTorch keeps every activation of the forward pass for the backward pass, so its peak RSS is
 * `fixed + batch · perSample(S)`: the fixed part is the runtime, the weights and their optimiser
 * state; a sample's part is its activations. In SAM's encoder those are of two kinds. Most grow
 * with the tokens a block holds (the windowed blocks pad the grid to whole windows of 14, the
 * global ones hold the grid as it is). The global blocks' attention maps, `[heads, T, T]`, grow
 * with the square of the grid's T tokens: at 1024 px they are most of the peak. So
 * `perSample = α · tokens(S) + β · globalPairs(S)`, with α and β fitted to three smaller runs:
 * S/2 at batches 2 and 4 (which give the fixed part and S/2's per-sample part) and 3S/4 at batch 2
 * (3S/4's per-sample part). Smaller probes measure too little: a small run's peak at batch 1 is
 * the process's start (vit_b: about 745 MiB at 128 and at 192 px alike), not its activations, and
 * probes at S/4 and S/2 at batches 1 and 2 put vit_b at 256 px, batch 4, at 4585 MiB against its
 * real 2028-2135 MiB; these put it at 2103-2385 MiB. Whether the windowed blocks' padding counts
 * decides how tokens grow; the fit is made both ways and the larger estimate kept (vit_b at 384 px,
 * batch 4: 4705 MiB against 2978 real), so it errs on the safe side.
 *
 * @module
 */
import type { EncoderArchitecture } from "../encoder/architecture.ts";

/** The parts of the architecture the estimate depends on. */
export type TorchMemoryArchitecture = Pick<
  EncoderArchitecture,
  "imageSize" | "patchSize" | "blockWindowSizes"
>;

/** One small run of the PyTorch benchmark and the peak RSS it reached. */
export interface TorchMemoryProbe {
  imageSize: number;
  batch: number;
  peakRssMiB: number;
}

/** What {@link estimateTorchMemory} found, recorded in `bench`'s JSON. */
export interface TorchMemoryEstimate {
  /** The run it was asked about. */
  imageSize: number;
  batch: number;
  /** The estimated peak RSS of that run, MiB. */
  neededMiB: number;
  /** The fitted fixed part and the per-sample part at `imageSize`, MiB. */
  fixedMiB: number;
  perSampleMiB: number;
  /** The probes, in the order they ran. */
  probes: TorchMemoryProbe[];
  /** How the figure was obtained, in words. */
  method: string;
}

/** The run is launched only when its estimate, times this, is at most the available memory. */
export const TORCH_MEMORY_MARGIN = 1.15;

/** The probes' batches: above 1, where a small run's peak is its start's, not its activations'. */
const PROBE_BATCHES = [2, 4] as const;

/** The input sides of the probes for a run at `imageSize`: S/2 and 3S/4, multiples of 16, at least 32. */
export function probeSizes(imageSize: number): [number, number] {
  const side = (fraction: number) => Math.max(32, Math.round((imageSize * fraction) / 16) * 16);
  return [side(1 / 2), side(3 / 4)];
}

/**
 * The token counts a sample's activations grow with at input side `imageSize`: tokens summed over
 * the blocks, with the windowed blocks' grids padded to whole windows (`paddedTokens`: their
 * attention runs on the padded windows) or not (`linearTokens`: their MLP and norms run on the
 * grid), and query-key pairs summed over the global blocks.
 */
export function activationTerms(
  architecture: TorchMemoryArchitecture,
  imageSize: number,
): { linearTokens: number; paddedTokens: number; globalPairs: number } {
  const grid = Math.ceil(imageSize / architecture.patchSize);
  let linearTokens = 0;
  let paddedTokens = 0;
  let globalPairs = 0;
  for (const window of architecture.blockWindowSizes) {
    linearTokens += grid * grid;
    if (window > 0) {
      paddedTokens += (Math.ceil(grid / window) * window) ** 2;
    } else {
      paddedTokens += grid * grid;
      globalPairs += grid ** 4;
    }
  }
  return { linearTokens, paddedTokens, globalPairs };
}

/**
 * A sample's part at `target` from its parts at two sides, fitted as `α · tokens + β · pairs`
 * (with one term alone when the fit gives the other a negative weight).
 */
function extrapolate(
  sides: [{ tokens: number; pairs: number; sample: number }, {
    tokens: number;
    pairs: number;
    sample: number;
  }],
  target: { tokens: number; pairs: number },
): number {
  const [a, b] = sides;
  const determinant = a.tokens * b.pairs - b.tokens * a.pairs;
  let alpha = (a.sample * b.pairs - b.sample * a.pairs) / determinant;
  let beta = (a.tokens * b.sample - b.tokens * a.sample) / determinant;
  if (determinant === 0 || beta < 0) {
    // No global blocks, or the part grew more slowly than tokens: grown with tokens alone.
    alpha = b.sample / b.tokens;
    beta = 0;
  } else if (alpha < 0) {
    // It grew faster than the query-key pairs: grown with them alone.
    alpha = 0;
    beta = b.sample / b.pairs;
  }
  return alpha * target.tokens + beta * target.pairs;
}

/**
 * The estimated peak RSS of the PyTorch benchmark at `architecture.imageSize` and `batch`, from
 * `probe` runs at smaller sizes (see the module doc). `probe` runs the same passes the real run
 * would, once each, and returns the process's peak RSS in MiB. `fits` is asked, before the larger
 * probe, whether an upper bound of its need fits; when not, that probe is not run and the estimate
 * is that bound grown to `imageSize` (it is then refused as well, being larger).
 *
 * @example
 * ```ts ignore
 * const estimate = await estimateTorchMemory(encoder, 4, async (imageSize, batch) =>
 *   (await runTorchBench({ ...encoder, imageSize }, { ...options, batch, runs: 1, warmup: 0 })).peakRssMiB);
 * ```
 */
export async function estimateTorchMemory(
  architecture: TorchMemoryArchitecture,
  batch: number,
  probe: (imageSize: number, batch: number) => Promise<number>,
  fits: (neededMiB: number) => boolean = () => true,
): Promise<TorchMemoryEstimate> {
  const [small, medium] = probeSizes(architecture.imageSize);
  const probes: TorchMemoryProbe[] = [];
  const run = async (imageSize: number, batch: number) => {
    const peakRssMiB = await probe(imageSize, batch);
    probes.push({ imageSize, batch, peakRssMiB });
    return peakRssMiB;
  };
  const [fewer, more] = PROBE_BATCHES;
  const smallFewer = await run(small, fewer);
  const smallMore = await run(small, more);
  // Noise can make a per-sample part come out at or below zero at small sizes: none is.
  const smallSample = Math.max((smallMore - smallFewer) / (more - fewer), 0);
  const fixedMiB = smallFewer - fewer * smallSample;
  const a = activationTerms(architecture, small);
  const b = activationTerms(architecture, medium);
  const target = activationTerms(architecture, architecture.imageSize);
  // A side's part grown from the small probe's with the fastest-growing term: an upper bound.
  const bound = (side: ReturnType<typeof activationTerms>) =>
    smallSample * Math.max(
      ...(["linearTokens", "paddedTokens", "globalPairs"] as const)
        .filter((term) => a[term] > 0)
        .map((term) => side[term] / a[term]),
    );
  const estimate = (perSampleMiB: number, method: string): TorchMemoryEstimate => ({
    imageSize: architecture.imageSize,
    batch,
    neededMiB: Math.round(fixedMiB + batch * perSampleMiB),
    fixedMiB: Math.round(fixedMiB),
    perSampleMiB: Math.round(perSampleMiB),
    probes,
    method,
  });
  if (!fits(fixedMiB + fewer * bound(b))) {
    // The larger probe itself might not fit: the run is judged on the bound alone.
    return estimate(
      bound(target),
      `peak RSS of the same passes at ${small} px (batches ${fewer} and ${more}), a ` +
        "sample's part grown with its fastest-growing term (the larger probe, at " +
        `${medium} px, might not have fitted)`,
    );
  }
  const mediumFewer = await run(medium, fewer);
  const mediumSample = Math.max((mediumFewer - fixedMiB) / fewer, smallSample);
  // Counting the windows' padding or not: each fit errs on one side somewhere (vit_b at 384 px,
  // batch 4, from 192 and 288 px: 2466 MiB padded, 4705 unpadded, 2978 real; at 256 px from 128
  // and 192: 2103 padded, 1.6 GiB unpadded, 2046 real), so the larger one is kept.
  const perSampleMiB = Math.max(
    ...(["paddedTokens", "linearTokens"] as const).map((tokens) =>
      extrapolate([
        { tokens: a[tokens], pairs: a.globalPairs, sample: smallSample },
        { tokens: b[tokens], pairs: b.globalPairs, sample: mediumSample },
      ], { tokens: target[tokens], pairs: target.globalPairs })
    ),
  );
  return estimate(
    perSampleMiB,
    `peak RSS of the same passes at ${small} px (batches ${fewer} and ${more}) and ` +
      `${medium} px (batch ${fewer}), fitted as fixed + batch x (a x tokens over the blocks + ` +
      "b x global-attention query-key pairs) and extrapolated",
  );
}

/**
 * Why the run estimated by `estimate` must not be launched with `availableMiB` of memory
 * available, or null when it fits (with {@link TORCH_MEMORY_MARGIN}).
 *
 * @example
 * ```ts
 * import { torchMemoryRefusal } from "./torch_memory.ts";
 * const estimate = { imageSize: 1024, batch: 4, neededMiB: 30000 };
 * torchMemoryRefusal(estimate, 20000); // "needs about 29.3 GiB (estimated), 19.5 GiB available"
 * ```
 */
export function torchMemoryRefusal(
  estimate: Pick<TorchMemoryEstimate, "neededMiB">,
  availableMiB: number,
): string | null {
  if (estimate.neededMiB * TORCH_MEMORY_MARGIN <= availableMiB) return null;
  const gib = (mib: number) => (mib / 1024).toFixed(1);
  return `needs about ${gib(estimate.neededMiB)} GiB (estimated), ${
    gib(availableMiB)
  } GiB available`;
}
