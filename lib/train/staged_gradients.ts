/**
 * Gradients of a chain of stages with one stage's tape alive at a time (block-wise gradient
 * checkpointing).
 *
 * tfjs keeps every tensor that any op of a taped forward pass saves for its backward pass until
 * the whole backward pass ends: for SAM's encoder that is every block's activations at once
 * (about 2.6 GB for vit_b at 256 px, far beyond the wasm heap at 1024 px). Here the forward
 * pass runs untaped, keeping only each stage's input; the backward pass then walks the stages
 * from the last to the first, re-running one stage under the tape, taking its gradients and
 * dropping its tape before the next. The price is one more forward pass of every stage but the
 * last; where memory allows, the last few stages ("the tail") run once under one tape instead.
 * Within a stage's backward pass, each tape node frees its saved tensors and its outputs'
 * gradients once it has used them (tfjs keeps both to the end of the pass).
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../backend/tf.ts";

/** One link of the chain: its output is the next stage's input, the last one's is the loss. */
export type Stage = (x: Tensor) => Tensor;

/** What {@link stagedGradients} returns: the same shape as `tf.variableGrads`' result. */
export interface StagedGradients {
  /** The loss (the last stage's scalar output); the caller disposes it. */
  value: tf.Scalar;
  /**
   * Per variable (by its tfjs name, as `tf.variableGrads` keys them), the sum of its gradients
   * over every stage that uses it; variables no stage reaches are absent. The caller disposes
   * them.
   */
  grads: Record<string, Tensor>;
}

/** Options of {@link stagedGradients}. */
export interface StagedGradientOptions {
  /**
   * Called once per stage while its tape is complete (just before its backward pass): the
   * moments of highest memory, for sampling.
   */
  onTapeFull?: (stage: number) => void;
  /**
   * Called once per stage after its backward pass with the milliseconds it took, for profiling.
   * On asynchronous backends (webgpu) these are the times to queue the work, not to do it.
   */
  onStageTimed?: (timing: StageTiming) => void;
  /**
   * How many stages at the end of the chain run once, under one tape kept from the forward pass
   * (the "tail"): they skip their repeated forward pass, and the tail's tapes are alive at once.
   * Default 1 (only the last stage); the whole chain makes it one `tf.variableGrads`.
   */
  tapedTail?: number;
}

/**
 * Where one stage's time went in {@link stagedGradients}; for the taped tail, the times of all
 * its stages together.
 */
export interface StageTiming {
  /** The (first) stage. */
  stage: number;
  /** The last stage timed here: `stage`, or the chain's last for the taped tail. */
  through: number;
  /** The untaped forward pass (0 for the tail, which runs only under the tape). */
  forwardMs: number;
  /** The forward pass under the tape (again, before the tail). */
  tapedForwardMs: number;
  /** The backward pass through the tape, with the gradient sums. */
  backwardMs: number;
  /**
   * Bytes the tape keeps once its forward pass is over: the distinct buffers its ops saved for
   * the backward pass (beyond the stage's input and the variables) and the output.
   */
  tapeBytes: number;
  /**
   * Tensor bytes alive besides the tape when its forward pass began (`tf.memory().numBytes`: the
   * model, the optimiser's state, the kept stage inputs, the gradients so far).
   */
  heldBytes: number;
}

/** A node of tfjs's active tape (tfjs-core 4.22 internals). */
interface TapeNode {
  /** The tensors it keeps for its backward pass. */
  saved?: Tensor[];
  /** The inputs its gradient is asked for (in the engine's pruned copy: those on the path). */
  inputs?: Record<string, Tensor>;
  /** The tensors it made. */
  outputs?: Tensor[];
  /** From the gradients of its outputs, one function per input that computes that gradient. */
  gradient?: (dys: Tensor[]) => Record<string, () => Tensor>;
}

/** The nodes of the engine's active tape, or undefined where it shows none. */
function activeTape(): TapeNode[] | undefined {
  const engine = tf.engine() as unknown as { state?: { activeTape?: TapeNode[] } };
  const tape = engine.state?.activeTape;
  return Array.isArray(tape) ? tape : undefined;
}

/**
 * Makes each node of `tape` free the gradients of its outputs and the tensors it saved once it
 * has used them.
 *
 * tfjs's backward pass keeps every gradient it makes until the whole pass ends (its scope
 * disposes them): the gradient of each intermediate tensor, and where a tensor feeds several
 * ops, each op's share of it besides their sum. It also keeps every saved tensor to the end. A
 * taped tail's backward pass thus grew the wasm heap by twice its tapes (vit_b lora at 512 px:
 * 709 MiB of tapes, heap 1.13 -> 2.57 GiB during the backward pass). Each node here computes the
 * input gradients the engine asks for (the inputs of its pruned copy, `this`) at once, then
 * frees its saved tensors (its own clones), the gradients of its outputs and every share of them
 * that the ops using those outputs made: the engine reaches a node after every node that uses
 * its outputs, and hands it their summed gradients, which no other node reads.
 */
function freeGradientsAsConsumed(tape: TapeNode[]): void {
  // Per tensor id, the gradients made for it by the nodes that use it; the engine keeps the
  // first as it is and adds each next one into a new sum.
  const madeFor = new Map<number, Tensor[]>();
  for (const node of tape) {
    const gradient = node.gradient;
    if (!gradient) continue;
    node.gradient = function (this: TapeNode, dys: Tensor[]) {
      const inputs = Object.entries(this.inputs ?? {});
      const computed: Record<string, () => Tensor> = {};
      // In one scope: a custom gradient (tf.customGrad) computes its input gradients when called,
      // not when asked for them, and the engine would keep its scratch to the end of the pass.
      const made = tf.tidy(() => {
        const thunks = gradient(dys);
        const made: Tensor[] = [];
        for (const [name] of inputs) {
          const thunk = thunks[name];
          if (!thunk) continue; // The engine reports the missing gradient.
          let dx = thunk();
          // One tensor handed to two inputs: each gets its own (the engine may free either).
          if (made.includes(dx)) dx = tf.clone(dx);
          made.push(dx);
          computed[name] = () => dx;
        }
        return made;
      });
      inputs.forEach(([name, input]) => {
        const dx = computed[name]?.();
        if (dx) madeFor.set(input.id, [...(madeFor.get(input.id) ?? []), dx]);
      });
      const spent: (Tensor | null)[] = [...dys];
      for (const output of this.outputs ?? []) {
        spent.push(...(madeFor.get(output.id) ?? []));
        madeFor.delete(output.id);
      }
      // A gradient may be an output's gradient itself (an identity): that one stays.
      for (const t of spent) if (t && !made.includes(t)) t.dispose();
      // Its saved tensors (clones of its own) serve this one call; the engine would keep them to
      // the end of the pass, disposing them again there (a no-op).
      for (const saved of this.saved ?? []) saved.dispose();
      return computed;
    };
  }
}

/**
 * Bytes of the distinct buffers that the active tape keeps for its backward pass and `outputs`
 * hold, leaving out those `excluded` hold; undefined where the engine shows no tape.
 * `tf.memory().numBytes` counts a buffer once per tensor that shares it, and every tensor an op
 * saves is such a clone: it counts a vit_b block's tape at 1024 px as 477 MiB where it holds 300.
 */
function keptBytes(tape: TapeNode[], outputs: Tensor[], excluded: Tensor[]): number {
  const seen = new Set<object>(excluded.map((t) => t.dataId));
  let bytes = 0;
  const count = (t: Tensor) => {
    if (t.isDisposed || seen.has(t.dataId)) return;
    seen.add(t.dataId);
    bytes += t.size * (t.dtype === "complex64" ? 8 : 4);
  };
  for (const node of tape) node.saved?.forEach(count);
  outputs.forEach(count);
  return bytes;
}

/**
 * The loss `stages[n](…stages[1](stages[0](input)))` and its gradients with respect to
 * `variables`, equal (up to float rounding) to `tf.variableGrads` of the composed function.
 *
 * Memory: every stage's input plus one stage's tape, instead of every stage's tape. Time: one
 * more forward pass of every stage but the last. With `tapedTail` t, the last t stages skip that
 * repetition and keep their tapes together (memory: t tapes). Each stage must compute the same thing when it
 * runs twice (no randomness, nothing recorded that would be counted twice) and may use any of
 * `variables`; a variable used by several stages gets the sum of its gradients. No gradient is
 * computed for `input` itself.
 *
 * Must not be called inside another gradient computation (`tf.grad`, `tf.variableGrads`, …):
 * tfjs's engine keeps one active tape, which a nested call would replace.
 *
 * @example
 * ```ts ignore
 * const { value, grads } = stagedGradients(
 *   [embed, ...blocks, (x) => loss(head(x), labels)],
 *   images,
 *   [...model.trainableVariables().values()],
 * );
 * ```
 */
export function stagedGradients(
  stages: readonly Stage[],
  input: Tensor,
  variables: readonly Variable[],
  options: StagedGradientOptions = {},
): StagedGradients {
  if (stages.length === 0) throw new RangeError("stagedGradients() needs at least one stage");
  // As tf.variableGrads: only trainable variables get gradients.
  const trainable = variables.filter((variable) => variable.trainable);
  if (trainable.length === 0) {
    throw new RangeError("stagedGradients() needs at least one trainable variable");
  }
  const last = stages.length - 1;
  const tail = options.tapedTail ?? 1;
  if (!Number.isInteger(tail) || tail < 1) {
    throw new RangeError(`stagedGradients(): tapedTail must be a positive integer, got ${tail}`);
  }
  // The tail (the last `tail` stages) runs once, under one tape; every stage before it twice.
  const first = Math.max(0, stages.length - tail);
  // inputs[i] is stage i's input; inputs[0] is the caller's.
  const inputs: Tensor[] = [input];
  const sums = new Map<Variable, Tensor>();
  let value: Tensor | undefined;
  let dy: Tensor | undefined;
  try {
    // Forward, untaped: each stage's tidy scope frees its intermediates at once.
    const forwardMs: number[] = [];
    for (let i = 0; i < first; i++) {
      const x = inputs[i]!;
      const begin = performance.now();
      inputs.push(tf.tidy(() => stages[i]!(x)));
      forwardMs.push(performance.now() - begin);
    }
    // Backward, one taped segment at a time: the tail, then each earlier stage alone.
    for (let i = first, through = last; i >= 0; through = i - 1, i--) {
      const x = inputs[i]!;
      const xs = i > 0 ? [x, ...trainable] : trainable;
      const begin = performance.now();
      let taped = begin;
      let bytesBefore = 0;
      let tapeBytes = 0;
      const result = tf.engine().gradients(
        () => {
          bytesBefore = tf.memory().numBytes;
          // In a scope of its own, so that what is left when it closes is what the tape keeps
          // (the engine keeps every tensor an op saves for its backward pass) and the output:
          // the tail's intermediate outputs and every stage's scratch are freed here.
          const y = tf.tidy(() => {
            let y = x;
            for (let j = i; j <= through; j++) y = stages[j]!(y);
            options.onTapeFull?.(i);
            return y;
          });
          taped = performance.now();
          const tape = activeTape();
          if (tape) {
            tapeBytes = keptBytes(tape, [y], [x, ...trainable]);
            freeGradientsAsConsumed(tape);
          } else tapeBytes = tf.memory().numBytes - bytesBefore;
          return y;
        },
        xs,
        dy,
        /* allowNoGradients: a stage may use none of the variables */ true,
      );
      if (through === last) {
        value = result.value;
        if (value.rank !== 0) {
          tf.dispose(result.grads.filter((gradient) => gradient !== undefined));
          throw new RangeError(
            `stagedGradients(): the last stage must return a scalar, got shape [${value.shape}]`,
          );
        }
      } else result.value.dispose();
      const grads = result.grads;
      // The engine hands dy back as a gradient only when the stage returned its input as is.
      if (dy && !grads.includes(dy)) dy.dispose();
      dy = undefined;
      const offset = i > 0 ? 1 : 0;
      const taken = new Set<Tensor>(i > 0 && grads[0] ? [grads[0]] : []);
      trainable.forEach((variable, j) => {
        let gradient = grads[offset + j];
        if (!gradient) return;
        // A gradient function may hand one tensor to two inputs; each sum must own its own.
        if (taken.has(gradient)) gradient = tf.clone(gradient);
        taken.add(gradient);
        const previous = sums.get(variable);
        if (!previous) {
          sums.set(variable, gradient);
          return;
        }
        sums.set(variable, tf.add(previous, gradient));
        previous.dispose();
        gradient.dispose();
      });
      options.onStageTimed?.({
        stage: i,
        through,
        forwardMs: forwardMs[i] ?? 0,
        tapedForwardMs: taped - begin,
        backwardMs: performance.now() - taped,
        tapeBytes,
        heldBytes: bytesBefore,
      });
      if (i > 0) {
        x.dispose();
        // No gradient reaches this stage's input: no earlier stage affects the loss.
        if (!grads[0]) break;
        dy = grads[0];
      }
    }
    if (sums.size === 0) {
      throw new Error("stagedGradients(): no variable is connected to the loss");
    }
    const named: Record<string, Tensor> = {};
    for (const [variable, gradient] of sums) named[variable.name] = gradient;
    sums.clear();
    const loss = value as tf.Scalar;
    value = undefined;
    return { value: loss, grads: named };
  } finally {
    // Reached with tensors left only when a stage threw (or the checks above failed).
    tf.dispose([
      ...inputs.slice(1).filter((t) => !t.isDisposed),
      ...sums.values(),
      ...(value ? [value] : []),
      ...(dy ? [dy] : []),
    ]);
  }
}
