/**
 * Adam with weight decay, optional per-entry update masks, and a state that can be saved and
 * restored bit-exactly.
 *
 * Weight decay defaults to the classic (coupled, L2-in-gradient) form of `torch.optim.Adam`,
 * because that is what the thesis' "Adam, lr 1e-4, weight decay 1e-4" means in the PyTorch code
 * it follows; `decoupledWeightDecay: true` gives AdamW (`p -= lr * wd * p`, outside the adaptive
 * scaling), which regularises more evenly and is what to use with larger decays.
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../backend/tf.ts";

/** Adam's hyper-parameters (the learning rate is passed per step). */
export interface AdamOptions {
  /** Decay of the first moment; default 0.9. */
  beta1?: number;
  /** Decay of the second moment; default 0.999. */
  beta2?: number;
  /** Added to the root of the second moment; default 1e-8. */
  epsilon?: number;
  /** Weight decay; default 0 (the thesis uses 1e-4). */
  weightDecay?: number;
  /** AdamW's decoupled decay instead of the classic L2 term in the gradient; default false. */
  decoupledWeightDecay?: boolean;
}

/** Adam's state as plain arrays: the number of updates done and both moments per variable. */
export interface AdamState {
  /** Updates applied so far (the bias correction of the next update uses `step + 1`). */
  step: number;
  /** Per variable name: first moment `m` and second moment `v`, row-major like the variable. */
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

/**
 * Adam over a fixed set of named variables.
 *
 * With a mask for a variable, entries where the mask is 0 keep their value and both moments
 * unchanged (MoSA: a drawn expert learns only its own entries); a null mask skips the variable
 * altogether, and it needs no gradient (MoSA: an expert that no pass drew). The bias correction
 * uses the global update count for every entry, as TensorFlow's LazyAdam does for rows it skips.
 *
 * @example
 * ```ts ignore
 * const adam = new Adam(model.trainableVariables(), { weightDecay: 1e-4 });
 * adam.applyGradients(grads, 1e-4);
 * const state = await adam.exportState(); // save; later: adam.importState(state)
 * ```
 */
export class Adam {
  readonly options: Readonly<Required<AdamOptions>>;
  readonly #variables: Map<string, Variable>;
  readonly #m = new Map<string, Variable>();
  readonly #v = new Map<string, Variable>();
  #step = 0;

  constructor(variables: Map<string, Variable>, options: AdamOptions = {}) {
    this.options = {
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      decoupledWeightDecay: options.decoupledWeightDecay ?? false,
    };
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    for (const [name, value] of [["beta1", beta1], ["beta2", beta2]] as const) {
      if (!(value >= 0 && value < 1)) {
        throw new RangeError(`Adam ${name} must be in [0, 1), got ${value}`);
      }
    }
    if (!(epsilon > 0)) throw new RangeError(`Adam epsilon must be positive, got ${epsilon}`);
    if (!(weightDecay >= 0)) {
      throw new RangeError(`Weight decay must be non-negative, got ${weightDecay}`);
    }
    this.#variables = new Map(variables);
    for (const [name, variable] of this.#variables) {
      // tf.variable copies its initial value: the zeros are temporaries.
      this.#m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
      this.#v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
    }
  }

  /** Updates applied so far. */
  get step(): number {
    return this.#step;
  }

  /**
   * Applies one update with learning rate `learningRate`. `gradients` must hold a gradient for
   * every variable whose mask is not null; `masks` (0/1, same shapes) restrict the update per
   * entry, and a null mask leaves its variable and moments as they are. Neither is disposed here.
   */
  applyGradients(
    gradients: ReadonlyMap<string, Tensor>,
    learningRate: number,
    masks?: ReadonlyMap<string, Tensor | null>,
  ): void {
    const { beta1, beta2, epsilon, weightDecay, decoupledWeightDecay } = this.options;
    const t = this.#step + 1;
    // torch.optim.Adam's form: p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
    const stepSize = learningRate / (1 - beta1 ** t);
    const rootCorrection = Math.sqrt(1 - beta2 ** t);
    for (const [name, variable] of this.#variables) {
      const mask = masks?.get(name);
      if (mask === null) continue;
      const gradient = gradients.get(name);
      if (!gradient) throw new Error(`Adam got no gradient for variable "${name}"`);
      const m = this.#m.get(name)!;
      const v = this.#v.get(name)!;
      tf.tidy(() => {
        let g: Tensor = gradient;
        if (weightDecay > 0 && !decoupledWeightDecay) g = g.add(variable.mul(weightDecay));
        let nextM: Tensor = m.mul(beta1).add(g.mul(1 - beta1));
        let nextV: Tensor = v.mul(beta2).add(g.square().mul(1 - beta2));
        const denominator = nextV.sqrt().div(rootCorrection).add(epsilon);
        let next: Tensor = variable.sub(nextM.div(denominator).mul(stepSize));
        if (weightDecay > 0 && decoupledWeightDecay) {
          next = next.sub(variable.mul(learningRate * weightDecay));
        }
        if (mask) {
          // where() rather than arithmetic: a masked entry keeps its exact bits.
          const active = tf.cast(mask, "bool");
          next = tf.where(active, next, variable);
          nextM = tf.where(active, nextM, m);
          nextV = tf.where(active, nextV, v);
        }
        variable.assign(next);
        m.assign(nextM);
        v.assign(nextV);
      });
    }
    this.#step = t;
  }

  /** Copies the state out (for a checkpoint). */
  async exportState(): Promise<AdamState> {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const name of this.#variables.keys()) {
      moments.set(name, {
        m: new Float32Array(await this.#m.get(name)!.data() as Float32Array),
        v: new Float32Array(await this.#v.get(name)!.data() as Float32Array),
      });
    }
    return { step: this.#step, moments };
  }

  /** Restores a state from {@link exportState}; every variable must have its moments. */
  importState(state: AdamState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new RangeError(`Adam state step must be a non-negative integer, got ${state.step}`);
    }
    for (const [name, variable] of this.#variables) {
      const moments = state.moments.get(name);
      if (!moments) throw new Error(`Adam state has no moments for variable "${name}"`);
      for (const [kind, values] of [["m", moments.m], ["v", moments.v]] as const) {
        if (values.length !== variable.size) {
          throw new RangeError(
            `Adam state "${kind}" of "${name}" has ${values.length} values, expected ${variable.size}`,
          );
        }
        const target = kind === "m" ? this.#m.get(name)! : this.#v.get(name)!;
        tf.tidy(() => target.assign(tf.tensor(values, variable.shape, "float32")));
      }
    }
    this.#step = state.step;
  }

  /** Frees the moment tensors (not the variables being trained). */
  dispose(): void {
    for (const tensor of [...this.#m.values(), ...this.#v.values()]) tensor.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}
