/**
 * Which head a run puts on SAM's mask decoder: the semantic head (one mask token per class) or the
 * detection head (object queries with a class MLP), and the few things that differ between them:
 * the widened architecture, the trained decoder tensors, their initial values.
 *
 * @module
 */
import type { Tensor } from "../backend/tf.ts";
import { expectedShapes, type SamArchitecture } from "../encoder/architecture.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import {
  detectionArchitecture,
  detectionDecoderShapes,
  initialDetectionDecoder,
} from "./detection_head.ts";
import {
  initialSemanticDecoder,
  semanticArchitecture,
  semanticDecoderNames,
} from "./semantic_head.ts";

/** A run's head and task. */
export type HeadConfig = { task: "semantic" } | { task: "detection"; queries: number };

/** The head of every run made before detection existed. */
export const SEMANTIC_HEAD: HeadConfig = { task: "semantic" };

/**
 * The decoder's architecture under `head` (its mask-token count).
 *
 * @example
 * ```ts
 * import { architectureOf, TINY_SIZE } from "../encoder/random_checkpoint.ts";
 * headArchitecture(architectureOf(TINY_SIZE), { task: "detection", queries: 20 }, 3)
 *   .decoder.numMaskTokens; // 20
 * ```
 */
export function headArchitecture(
  base: SamArchitecture,
  head: HeadConfig,
  numClasses: number,
): SamArchitecture {
  return head.task === "detection"
    ? detectionArchitecture(base, head.queries)
    : semanticArchitecture(base, numClasses);
}

/**
 * Names and shapes of the decoder tensors a run with `head` trains, in a stable order.
 *
 * @example
 * ```ts
 * import { architectureOf, TINY_SIZE } from "../encoder/random_checkpoint.ts";
 * headDecoderShapes(architectureOf(TINY_SIZE), { task: "detection", queries: 5 }, 3).size; // 100
 * ```
 */
export function headDecoderShapes(
  base: SamArchitecture,
  head: HeadConfig,
  numClasses: number,
): Map<string, number[]> {
  if (head.task === "detection") return detectionDecoderShapes(base, numClasses, head.queries);
  const semantic = semanticArchitecture(base, numClasses);
  const shapes = expectedShapes(semantic);
  return new Map(semanticDecoderNames(semantic).map((name) => [name, shapes.get(name)!]));
}

/**
 * The initial decoder tensors of a fresh run with `head`; the caller disposes them.
 *
 * @example
 * ```ts ignore
 * const tensors = initialHeadDecoder(sam, { task: "detection", queries: 100 }, 37, 0);
 * ```
 */
export function initialHeadDecoder(
  weights: ModelWeights,
  head: HeadConfig,
  numClasses: number,
  seed: number,
): Map<string, Tensor> {
  return head.task === "detection"
    ? initialDetectionDecoder(weights, numClasses, head.queries, seed)
    : initialSemanticDecoder(weights, numClasses);
}

/**
 * Checks a head read from a file or built from options; throws a one-line `Error` naming what is
 * wrong. An absent head is the semantic one.
 *
 * @example
 * ```ts
 * validateHeadConfig(undefined); // { task: "semantic" }
 * validateHeadConfig({ task: "detection", queries: 100 }); // kept
 * ```
 */
export function validateHeadConfig(value: unknown): HeadConfig {
  if (value === undefined || value === null) return SEMANTIC_HEAD;
  const head = value as { task?: unknown; queries?: unknown };
  if (head.task === "semantic") return SEMANTIC_HEAD;
  if (head.task === "detection") {
    const queries = head.queries;
    if (typeof queries !== "number" || !Number.isInteger(queries) || queries < 1) {
      throw new RangeError(
        `a detection head needs a positive integer of queries, got ${JSON.stringify(queries)}`,
      );
    }
    return { task: "detection", queries };
  }
  throw new RangeError(`unknown task ${JSON.stringify(head.task)} (semantic or detection)`);
}
