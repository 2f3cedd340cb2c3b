/**
 * Shared fixtures of the PEFT and gate tests: small SAM-shaped models, the one table of cases
 * (method × model × config), a cross-entropy loss and a minimal Adam step (the real trainer
 * lives in lib/train; this one only has to show that the variables learn).
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../../lib/backend/tf.ts";
import {
  architectureOf,
  randomSamTensors,
  type SamSize,
  TINY_SIZE,
} from "../../lib/encoder/random_checkpoint.ts";
import { SamWeights } from "../../lib/encoder/weights.ts";
import { type PeftConfig, validatePeftConfig } from "../../lib/peft/config.ts";
import type { PeftModel } from "../../lib/peft/peft_model.ts";
import { METHOD_NAMES } from "../../lib/peft/registry.ts";
import { mulberry32 } from "../../lib/nn/prng.ts";

/** A second small layout: 64 px, odd head count, 3-token windows padded 4 → 6, last block global. */
export const SMALL_B_SIZE: SamSize = {
  imageSize: 64,
  embedDim: 24,
  depth: 3,
  numHeads: 3,
  windowSize: 3,
  globalBlocks: [2],
  outChans: 16,
  decoderMlpDim: 32,
  iouHeadHiddenDim: 16,
};

/** The models every case runs on. */
export const SIZES: Record<string, SamSize> = { tiny: TINY_SIZE, small_b: SMALL_B_SIZE };

/** Small hyperparameters, so that the suite stays fast; alpha ≠ r so the scale is exercised. */
export const SMALL_CONFIG = {
  loraRank: 2,
  loraAlpha: 4,
  prefixLength: 3,
  prefixHidden: 8,
  adapterDim: 4,
  mosaParts: 3,
};

/** One row of the shared table. */
export interface PeftCase {
  label: string;
  sizeName: string;
  size: SamSize;
  config: PeftConfig;
  numClasses: number;
}

/** Every method × every model, with the small configuration. */
export const CASES: PeftCase[] = METHOD_NAMES.flatMap((method) =>
  Object.entries(SIZES).map(([sizeName, size]) => ({
    label: `${method} on ${sizeName}`,
    sizeName,
    size,
    config: validatePeftConfig({ method, ...SMALL_CONFIG }),
    numClasses: 3,
  }))
);

/** A deterministic random SAM of `size`. */
export function randomSam(size: SamSize, seed = 1): SamWeights {
  const architecture = architectureOf(size);
  const tensors = new Map<string, Tensor>();
  for (const t of randomSamTensors(architecture, seed)) {
    tensors.set(t.name, tf.tensor(t.data(), t.shape, "float32"));
  }
  return new SamWeights(architecture, tensors);
}

/** Seeded normal-ish images `[batch, S, S, 3]` (already "normalised"). */
export function randomImages(size: SamSize, batch: number, seed = 5): tf.Tensor4D {
  const random = mulberry32(seed);
  const count = batch * size.imageSize * size.imageSize * 3;
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = 2 * random() - 1;
  return tf.tensor4d(values, [batch, size.imageSize, size.imageSize, 3]);
}

/** Seeded labels `[batch, S/4, S/4]` in 0..numClasses-1. */
export function randomLabels(size: SamSize, batch: number, numClasses: number, seed = 9): Tensor {
  const random = mulberry32(seed);
  const side = size.imageSize / 4;
  const values = new Int32Array(batch * side * side);
  for (let i = 0; i < values.length; i++) values[i] = Math.floor(random() * numClasses);
  return tf.tensor3d(values, [batch, side, side], "int32");
}

/** Mean cross-entropy of logits `[B, C, h, w]` against labels `[B, h, w]`. */
export function crossEntropy(logits: Tensor, labels: Tensor, numClasses: number): tf.Scalar {
  return tf.tidy(() => {
    const perPixel = logits.transpose([0, 2, 3, 1]); // [B, h, w, C]
    const logProbabilities = tf.logSoftmax(perPixel, -1);
    const target = tf.oneHot(labels as tf.Tensor3D, numClasses); // [B, h, w, C]
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logProbabilities), -1))) as tf.Scalar;
  });
}

/**
 * A minimal Adam with optional 0/1 masks on gradients and updates, and null masks for variables
 * not updated (for MoSA).
 */
export class TestAdam {
  readonly #m = new Map<string, Tensor>();
  readonly #v = new Map<string, Tensor>();
  #t = 0;
  constructor(readonly learningRate: number) {}

  /** Applies one update to `variables` from `gradients` (keyed by tfjs variable name). */
  apply(
    variables: Map<string, Variable>,
    gradients: Record<string, Tensor>,
    masks?: Map<string, Tensor | null>,
  ): void {
    this.#t++;
    const b1 = 0.9, b2 = 0.999, eps = 1e-8;
    // Every moment from the first step on, so that the tensor count stays flat even when a
    // variable (a MoSA expert) first gets a gradient later.
    for (const [name, variable] of variables) {
      if (this.#m.has(name)) continue;
      this.#m.set(name, tf.zerosLike(variable));
      this.#v.set(name, tf.zerosLike(variable));
    }
    for (const [name, variable] of variables) {
      const rawGradient = gradients[variable.name];
      if (!rawGradient) continue;
      const mask = masks?.get(name);
      if (mask === null) continue;
      tf.tidy(() => {
        const g = mask ? tf.mul(rawGradient, mask) : rawGradient;
        const m = tf.add(tf.mul(this.#m.get(name)!, b1), tf.mul(g, 1 - b1));
        const v = tf.add(
          tf.mul(this.#v.get(name)!, b2),
          tf.mul(tf.square(g), 1 - b2),
        );
        const mHat = tf.div(m, 1 - b1 ** this.#t);
        const vHat = tf.div(v, 1 - b2 ** this.#t);
        let update = tf.div(tf.mul(mHat, this.learningRate), tf.add(tf.sqrt(vHat), eps));
        if (mask) update = tf.mul(update, mask);
        variable.assign(tf.sub(variable, update));
        this.#m.get(name)?.dispose();
        this.#v.get(name)?.dispose();
        this.#m.set(name, tf.keep(m));
        this.#v.set(name, tf.keep(v));
      });
    }
  }

  dispose(): void {
    tf.dispose([...this.#m.values(), ...this.#v.values()]);
  }
}

/**
 * One training step of `model` on a fixed batch, through pass 0's MoSA experts (no consistency
 * term: the real trainer's is tested in tests/train): returns the loss before the update.
 */
export function trainStep(
  model: PeftModel,
  optimizer: TestAdam,
  step: number,
  images: tf.Tensor4D,
  labels: Tensor,
): number {
  const variables = model.trainableVariables();
  model.prepareTrainingPass({ step, pass: 0 });
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(model.forward(images), labels, model.numClasses),
    [...variables.values()],
  );
  model.prepareTrainingPass(undefined);
  const masks = model.gradientMasks(step);
  optimizer.apply(variables, grads, masks);
  tf.dispose([...masks?.values() ?? []].filter((mask) => mask !== null));
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}

/** Copies of every tensor's values, to compare before and after. */
export function snapshot(tensors: Iterable<[string, Tensor]>): Map<string, Float32Array> {
  return new Map([...tensors].map(([name, t]) => [name, t.dataSync().slice() as Float32Array]));
}

/** True when two arrays hold the same bits. */
export function bitIdentical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((value, i) => value === y[i]);
}
