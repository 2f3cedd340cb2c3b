/**
 * The trainable state of one fine-tuning run: the PEFT modules of the method, their gates, the
 * semantic decoder (and, for full fine-tuning, the image encoder) as tf.Variables over a frozen
 * SAM.
 *
 * @module
 */
import { type Tensor, type Tensor1D, type Tensor4D, tf, type Variable } from "../backend/tf.ts";
import { decodeDetections, type DetectionOutput } from "../decoder/detection_head.ts";
import {
  headArchitecture,
  type HeadConfig,
  initialHeadDecoder,
  SEMANTIC_HEAD,
} from "../decoder/head.ts";
import { decodeMasks } from "../decoder/mask_decoder.ts";
import type { BlockExtension, EncoderExtensions } from "../encoder/block_hooks.ts";
import { encodeImage } from "../encoder/image_encoder.ts";
import { LayeredWeights } from "../encoder/layered_weights.ts";
import { encoderStages } from "../encoder/stages.ts";
import type { ModelWeights } from "../encoder/weights.ts";
import { type GateObserver, type GateTensors, gateValue, initialGate } from "./gate.ts";
import type { Stage } from "../train/staged_gradients.ts";
import type { FrozenSplit, TrainableModel } from "../train/trainable.ts";
import { adapterOutput, type AdapterTensors, initialAdapter } from "./adapter.ts";
import type { PeftConfig } from "./config.ts";
import {
  gateName,
  moduleBlocks,
  moduleName,
  peftTensorLayout,
  type PeftTensorSpec,
  reparamName,
} from "./layout.ts";
import { initialLora, loraDelta, loraScale, type LoraTensors } from "./lora.ts";
import {
  type AdapterProjection,
  mosaExpertLocal,
  MosaExperts,
  mosaSplitProjections,
  type TrainingPass,
} from "./mosa.ts";
import {
  type FlatPrefix,
  initialPrefixEmbedding,
  initialPrefixReparam,
  prefixForBatch,
  type PrefixReparam,
  reparameterisePrefix,
} from "./prefix.ts";
import { methodSpec, type ModuleKind } from "./registry.ts";
import { numel } from "../nn/init.ts";

/** Tensor values by name, as files hold them. */
export type TensorValues = Map<string, { shape: number[]; data: Float32Array }>;

/** Options of {@link PeftModel.create} and {@link PeftModel.fromTensors}. */
export interface PeftModelOptions {
  /** Classes of the semantic head (one mask token per class). */
  numClasses: number;
  /** Seeds the initial values and MoSA's masks and draws. */
  seed: number;
  /** The head on the mask decoder; default the semantic one. */
  head?: HeadConfig;
}

/**
 * A method's trainable state over a frozen SAM.
 *
 * @example
 * ```ts ignore
 * const model = PeftModel.create(sam, validatePeftConfig({ method: "mopeft" }), { numClasses: 3, seed: 1 });
 * const logits = model.forward(images); // [B, 3, S/4, S/4]
 * const grads = tf.variableGrads(() => loss(model.forward(images)), [...model.trainableVariables().values()]);
 * model.dispose();
 * ```
 */
export class PeftModel {
  readonly config: PeftConfig;
  readonly numClasses: number;
  readonly seed: number;
  readonly head: HeadConfig;
  readonly #base: ModelWeights;
  readonly #variables: Map<string, Variable>;
  readonly #layout: PeftTensorSpec[];
  /**
   * True when the tensors are held in inference form (a loaded run: flat prefixes, merged MoSA
   * adapters), false in training form (reparameterised prefixes, MoSA's expert copies).
   */
  readonly #inferenceForm: boolean;
  readonly #weights: LayeredWeights;
  /** MoSA's masks and draws, in training form only. */
  readonly #mosa?: MosaExperts;
  /** The training pass whose experts the forward runs through; undefined: the merged adapter. */
  #pass?: TrainingPass;

  private constructor(
    base: ModelWeights,
    config: PeftConfig,
    options: PeftModelOptions,
    values: ReadonlyMap<string, Tensor | Float32Array>,
    inferenceForm: boolean,
  ) {
    this.config = config;
    this.numClasses = options.numClasses;
    this.seed = options.seed;
    this.head = options.head ?? SEMANTIC_HEAD;
    this.#base = base;
    this.#inferenceForm = inferenceForm;
    this.#layout = peftTensorLayout(base.architecture, config, options.numClasses, this.head);
    this.#variables = new Map();
    for (const spec of this.#layout) {
      if (spec.form === (inferenceForm ? "training" : "inference")) continue;
      const value = values.get(spec.name)!;
      // Unnamed variables: tfjs names must be globally unique, and several runs may coexist.
      const variable = value instanceof Float32Array
        ? tf.tidy(() => tf.variable(tf.tensor(value, spec.shape, "float32"), true))
        : tf.variable(value, true);
      this.#variables.set(spec.name, variable);
    }
    const overrides = new Map<string, Tensor>();
    for (const [name, variable] of this.#variables) {
      if (name.startsWith("mask_decoder.") || name.startsWith("image_encoder.")) {
        overrides.set(name, variable);
      }
    }
    this.#weights = new LayeredWeights(
      base,
      overrides,
      headArchitecture(base.architecture, this.head, options.numClasses),
    );
    if (!inferenceForm && this.#mosaSplits().length > 0) {
      this.#mosa = new MosaExperts(
        this.#layout.filter((s) =>
          s.group === "adapter" && s.form === "inference" && s.name.endsWith(".weight")
        ).map((s) => ({
          block: s.block!,
          projection: s.module!.local.startsWith("down") ? "down" : "up",
          shape: s.shape,
        })),
        config.mosaParts,
        options.seed,
      );
    }
  }

  /**
   * A fresh run: PEFT modules at their initial values (LoRA and adapters start as the identity),
   * gates near 0.5, the semantic decoder from SAM's pretrained one.
   */
  static create(base: ModelWeights, config: PeftConfig, options: PeftModelOptions): PeftModel {
    const values = new Map<string, Tensor | Float32Array>();
    const width = base.architecture.encoder.embedDim;
    const seed = options.seed;
    const head = options.head ?? SEMANTIC_HEAD;
    const decoder = initialHeadDecoder(base, head, options.numClasses, seed);
    // One initial adapter per block: MoSA's K copies of a projection all start from it.
    const adapters = new Map<string, Record<string, Float32Array>>();
    try {
      for (const spec of peftTensorLayout(base.architecture, config, options.numClasses, head)) {
        if (values.has(spec.name) || spec.form === "inference") continue;
        if (spec.group === "decoder") values.set(spec.name, decoder.get(spec.name)!);
        else if (spec.group === "encoder") values.set(spec.name, base.get(spec.name));
        else if (spec.group === "prefixReparam") {
          const kind = spec.name.startsWith(reparamName("vpt")) ? "vpt" : "prefix";
          const mlp = initialPrefixReparam(width, config, seed, reparamName(kind));
          for (const [local, data] of Object.entries(mlp)) {
            values.set(`${reparamName(kind)}.${local}`, data);
          }
        } else if (spec.module?.kind === "gate") {
          const prefix = spec.name.replace(/\.(weight|bias)$/, "");
          const gate = initialGate(width, seed, prefix);
          values.set(`${prefix}.weight`, gate.weight);
          values.set(`${prefix}.bias`, gate.bias);
        } else if (spec.group === "adapter" || spec.group === "mosaExperts") {
          const prefix = moduleName(spec.block!, "adapter");
          if (!adapters.has(prefix)) {
            adapters.set(prefix, initialAdapter(width, config, seed, prefix));
          }
          const plainLocal = spec.module!.local.replace(/\.experts\.\d+/, "");
          values.set(spec.name, adapters.get(prefix)![plainLocal]!.slice());
        } else if (spec.module) {
          const prefix = moduleName(spec.block!, spec.module.kind as ModuleKind);
          const init: Record<string, Float32Array> = spec.group === "lora"
            ? initialLora(width, config, seed, prefix)
            : { embedding: initialPrefixEmbedding(width, config, seed, `${prefix}.embedding`) };
          for (const [local, data] of Object.entries(init)) values.set(`${prefix}.${local}`, data);
        }
      }
      return new PeftModel(base, config, options, values, false);
    } finally {
      tf.dispose([...decoder.values()]);
    }
  }

  /**
   * A run from stored tensors: the inference form (flat prefixes and merged MoSA adapters, as
   * `peft.safetensors` holds) or the training form (reparameterised prefixes and MoSA's expert
   * copies, as a resumable checkpoint holds). Every
   * expected tensor must be present with its shape, and nothing else; otherwise throws an
   * `Error` naming the first problem.
   */
  static fromTensors(
    base: ModelWeights,
    config: PeftConfig,
    options: PeftModelOptions,
    tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  ): PeftModel {
    const layout = peftTensorLayout(base.architecture, config, options.numClasses, options.head);
    const flat = layout.some((s) => s.form === "inference" && tensors.has(s.name));
    const expected = layout.filter((s) => s.form !== (flat ? "training" : "inference"));
    const problems: string[] = [];
    for (const spec of expected) {
      const found = tensors.get(spec.name);
      if (!found) problems.push(`missing tensor "${spec.name}" (expected shape [${spec.shape}])`);
      else if (
        found.shape.length !== spec.shape.length || found.shape.some((n, i) => n !== spec.shape[i])
      ) {
        problems.push(`tensor "${spec.name}" has shape [${found.shape}], expected [${spec.shape}]`);
      }
    }
    const names = new Set(expected.map((s) => s.name));
    for (const name of tensors.keys()) {
      if (!names.has(name)) {
        problems.push(`unexpected tensor "${name}" for method "${config.method}"`);
      }
    }
    if (problems.length > 0) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
      throw new Error(`${problems[0]}${more}`);
    }
    const values = new Map([...tensors].map(([name, t]) => [name, t.data]));
    return new PeftModel(base, config, options, values, flat);
  }

  /** The encoder hooks of this run; gate values go to `observer` when given. */
  extensions(observer?: GateObserver): EncoderExtensions | undefined {
    const spec = methodSpec(this.config.method);
    if (spec.modules.length === 0) return undefined;
    return (block, blockInput) => this.#blockExtension(block, blockInput, observer);
  }

  #blockExtension(
    block: number,
    blockInput: Tensor4D,
    observer?: GateObserver,
  ): BlockExtension | undefined {
    const spec = methodSpec(this.config.method);
    const extension: BlockExtension = {};
    const gate = (kind: ModuleKind): Tensor1D | undefined => {
      if (!spec.gated) return undefined;
      const tensors: GateTensors = {
        weight: this.#get(`${gateName(block, kind)}.weight`),
        bias: this.#get(`${gateName(block, kind)}.bias`),
      };
      const value = gateValue(blockInput, tensors);
      observer?.capture(block, kind, value);
      return value;
    };
    for (const kind of spec.modules) {
      const prefix = moduleName(block, kind);
      if (!moduleBlocks(kind, this.#base.architecture.encoder.depth).includes(block)) continue;
      if (kind === "lora") {
        const lora = this.#group<LoraTensors>(prefix, ["query_a", "query_b", "value_a", "value_b"]);
        const scale = gate("lora") ?? loraScale(this.config);
        extension.queryValueDelta = (tokens, windowsPerImage) =>
          loraDelta(tokens, lora, scale, windowsPerImage);
      } else if (kind === "adapter") {
        const adapter = this.#adapter(block);
        const g = gate("adapter");
        extension.mlpOutput = (mlpOutput) => adapterOutput(mlpOutput, adapter, g);
      } else {
        const flat = this.#flatPrefix(block, kind);
        // Tensors made here live in encodeImage's tidy scope and go with it.
        extension.prefix = prefixForBatch(flat, blockInput.shape[0], gate(kind));
      }
    }
    return Object.keys(extension).length > 0 ? extension : undefined;
  }

  /**
   * Block `block`'s adapter as the forward runs it: the stored tensors; or, for MoSA in training
   * form, the experts drawn for the prepared pass, or with no pass prepared (evaluation) the
   * merged projections, each the mean of its copies (made here, in the caller's tidy scope).
   */
  #adapter(block: number): AdapterTensors {
    const prefix = moduleName(block, "adapter");
    const split = this.#inferenceForm ? [] : this.#mosaSplits();
    const adapter: Partial<AdapterTensors> = {};
    const draw = this.#pass && this.#mosa ? this.#mosa.draw(block, this.#pass) : undefined;
    for (const projection of ["down", "up"] as const) {
      for (const tensor of ["weight", "bias"] as const) {
        const local = `${projection}.${tensor}` as const;
        if (!split.includes(projection)) adapter[local] = this.#get(`${prefix}.${local}`);
        else if (draw) {
          adapter[local] = this.#get(
            `${prefix}.${mosaExpertLocal(projection, draw[projection], tensor)}`,
          );
        } else adapter[local] = this.#mergedExpert(block, projection, tensor);
      }
    }
    return adapter as AdapterTensors;
  }

  /** `(1/K) x` the sum of a split projection's K copies (a new tensor). */
  #mergedExpert(block: number, projection: AdapterProjection, tensor: "weight" | "bias"): Tensor {
    const prefix = moduleName(block, "adapter");
    const copies = Array.from(
      { length: this.config.mosaParts },
      (_, expert) => this.#get(`${prefix}.${mosaExpertLocal(projection, expert, tensor)}`),
    );
    return tf.tidy(() =>
      tf.div(copies.length === 1 ? copies[0]! : tf.addN(copies), this.config.mosaParts)
    );
  }

  /** The adapter projections this run trains as MoSA experts (none unless MoSA). */
  #mosaSplits(): AdapterProjection[] {
    if (this.config.adapterKind !== "mosa") return [];
    if (!methodSpec(this.config.method).modules.includes("adapter")) return [];
    return mosaSplitProjections(this.config.mosaShare);
  }

  #flatPrefix(block: number, kind: "prefix" | "vpt"): FlatPrefix {
    const prefix = moduleName(block, kind);
    if (this.#inferenceForm) {
      return { keys: this.#get(`${prefix}.keys`), values: this.#get(`${prefix}.values`) };
    }
    const mlp = this.#group<PrefixReparam>(reparamName(kind), [
      "0.weight",
      "0.bias",
      "2.weight",
      "2.bias",
    ]);
    return reparameterisePrefix(this.#get(`${prefix}.embedding`), mlp);
  }

  #get(name: string): Tensor {
    const variable = this.#variables.get(name);
    if (!variable) throw new Error(`PEFT run has no tensor "${name}"`);
    return variable;
  }

  #group<T>(prefix: string, locals: readonly string[]): T {
    return Object.fromEntries(locals.map((local) => [local, this.#get(`${prefix}.${local}`)])) as T;
  }

  /** SAM's weights with the trained decoder (and encoder, for `full`) layered over the base. */
  weights(): ModelWeights {
    return this.#weights;
  }

  /**
   * Semantic logits `[B, numClasses, S/4, S/4]` for preprocessed images `[B, S, S, 3]` (a run
   * with the semantic head; see {@link detect} for the detection head).
   *
   * @example
   * ```ts ignore
   * const logits = model.forward(images);
   * ```
   */
  forward(images: Tensor4D, observer?: GateObserver): Tensor4D {
    return tf.tidy(() =>
      this.#semanticLogits(encodeImage(this.#weights, images, this.extensions(observer)))
    );
  }

  /**
   * Every query's mask logits `[B, Q, S/4, S/4]` and class logits `[B, Q, C + 1]` for
   * preprocessed images `[B, S, S, 3]` (a run with the detection head).
   *
   * @example
   * ```ts ignore
   * const { masks, classLogits } = model.detect(images);
   * ```
   */
  detect(images: Tensor4D, observer?: GateObserver): DetectionOutput {
    return tf.tidy(() =>
      this.#detections(encodeImage(this.#weights, images, this.extensions(observer)))
    );
  }

  /**
   * `forward` split after the image encoder when nothing this run trains lives in it (method
   * `decoder`), so that the trainer can encode outside the gradient tape; undefined otherwise.
   */
  frozenSplit(): FrozenSplit | undefined {
    return this.#frozenSplitWith((embeddings) => this.#semanticLogits(embeddings));
  }

  /**
   * `forward` as a chain for staged gradients (lib/train/staged_gradients.ts): the patch
   * embedding, one stage per encoder block, then neck, decoder and head in one; undefined when
   * nothing this run trains lives in the encoder (then {@link frozenSplit} is cheaper).
   *
   * No gate observer enters: training runs every stage but the last twice per step, and an
   * observer would count those gates twice.
   */
  stages(): Stage[] | undefined {
    return this.#stagesWith((embeddings) => this.#semanticLogits(embeddings));
  }

  /**
   * This run as the trainer sees a detection model: `detect` as its forward pass, with the same
   * variables, MoSA masks, frozen split and stages as the semantic form.
   */
  detector(): TrainableModel<DetectionOutput> {
    const head = (embeddings: Tensor4D) => this.#detections(embeddings);
    return {
      trainableVariables: () => this.trainableVariables(),
      forward: (images) => this.detect(images),
      gradientMasks: (step) => this.gradientMasks(step),
      frozenSplit: () => this.#frozenSplitWith(head),
      // The trainer feeds the last stage's output to the loss as it is.
      stages: () => this.#stagesWith(head as unknown as (embeddings: Tensor4D) => Tensor),
    };
  }

  #frozenSplitWith<Out>(head: (embeddings: Tensor4D) => Out): FrozenSplit<Out> | undefined {
    if (this.#encoderTrains()) return undefined;
    return {
      features: (images) => encodeImage(this.#weights, images, this.extensions()),
      logits: (embeddings) => head(embeddings as Tensor4D),
    };
  }

  #stagesWith(head: (embeddings: Tensor4D) => Tensor): Stage[] | undefined {
    if (!this.#encoderTrains()) return undefined;
    const encoder = encoderStages(this.#weights, this.extensions());
    const neck = encoder.pop()!;
    return [...encoder, (tokens) => tf.tidy(() => head(neck(tokens) as Tensor4D))];
  }

  #encoderTrains(): boolean {
    return [...this.#variables.keys()].some((name) => !name.startsWith("mask_decoder."));
  }

  #semanticLogits(embeddings: Tensor4D): Tensor4D {
    if (this.head.task !== "semantic") {
      throw new TypeError("This run has a detection head: use detect(), not forward()");
    }
    return decodeMasks(this.#weights, embeddings, { predictIou: false }).lowResMasks;
  }

  #detections(embeddings: Tensor4D): DetectionOutput {
    if (this.head.task !== "detection") {
      throw new TypeError("This run has a semantic head: use forward(), not detect()");
    }
    return decodeDetections(this.#weights, embeddings);
  }

  /** Every trained tensor by name (the training form: reparameterised prefixes). */
  trainableVariables(): Map<string, Variable> {
    return new Map(this.#variables);
  }

  /**
   * MoSA: fixes the experts that forward passes run through (those drawn for `pass`), until the
   * next call; undefined returns to the merged adapter (evaluation). The trainer prepares every
   * pass of a step before running it, so that each stage computes the same thing both times it
   * runs. A no-op for every other method.
   */
  prepareTrainingPass(pass: TrainingPass | undefined): void {
    this.#pass = pass ? { ...pass } : undefined;
  }

  /** MoSA's consistency weight W while training (0 for every other method, and once loaded). */
  consistencyWeight(): number {
    return this.#mosa ? this.config.mosaConsistency : 0;
  }

  /**
   * MoSA: the update rules of step `step` (after the passes {@link consistencyWeight} asks for):
   * a drawn expert's weight → its 0/1 mask (multiply both the gradient and the optimiser's update
   * by it), an undrawn expert's weight and bias → null (not updated); everything else (shared
   * projections, drawn experts' biases) learns whole. The caller disposes the masks after the
   * step. Undefined for every other method.
   */
  gradientMasks(step: number): Map<string, Tensor | null> | undefined {
    if (!this.#mosa) return undefined;
    const passes = this.consistencyWeight() > 0 ? 2 : 1;
    return this.#mosa.updateMasks(
      step,
      passes,
      (block, projection, expert, tensor) =>
        `${moduleName(block, "adapter")}.${mosaExpertLocal(projection, expert, tensor)}`,
    );
  }

  /** MoSA's fixed expert of every entry of `block`'s split `projection` weight (training form). */
  mosaAssignment(block: number, projection: AdapterProjection): Uint8Array | undefined {
    if (!this.#mosa || !this.#mosaSplits().includes(projection)) return undefined;
    return this.#mosa.assignment(block, projection);
  }

  /** MoSA's experts drawn in `block` for `pass` (training form; undefined otherwise). */
  mosaDraw(block: number, pass: TrainingPass): Record<AdapterProjection, number> | undefined {
    return this.#mosa?.draw(block, pass);
  }

  /**
   * The trained tensors in inference form: prefixes flat (the reparameterisation MLP dropped),
   * each MoSA-split projection the mean of its K copies (weights and biases), so that MoSA
   * stores one plain adapter per block with exactly `adapter`'s names and shapes.
   */
  async exportTensors(): Promise<TensorValues> {
    const result: TensorValues = new Map();
    for (const spec of this.#layout) {
      if (spec.form === "training") continue;
      if (spec.form === "inference" && !this.#inferenceForm && spec.group === "adapter") {
        const local = spec.module!.local;
        const merged = this.#mergedExpert(
          spec.block!,
          local.startsWith("down") ? "down" : "up",
          local.endsWith("weight") ? "weight" : "bias",
        );
        result.set(spec.name, { shape: spec.shape, data: await readAndDispose(merged) });
        continue;
      }
      if (spec.form === "inference" && !this.#inferenceForm) {
        if (result.has(spec.name)) continue;
        const kind = spec.group as "prefix" | "vpt";
        const flat = this.#flatPrefix(spec.block!, kind);
        const prefix = moduleName(spec.block!, kind);
        result.set(`${prefix}.keys`, { shape: spec.shape, data: await readAndDispose(flat.keys) });
        result.set(`${prefix}.values`, {
          shape: spec.shape,
          data: await readAndDispose(flat.values),
        });
        continue;
      }
      const variable = this.#get(spec.name);
      result.set(spec.name, { shape: spec.shape, data: await variable.data() as Float32Array });
    }
    return result;
  }

  /** Every variable's value (the training form), for resumable checkpoints. */
  async exportTrainingState(): Promise<TensorValues> {
    const result: TensorValues = new Map();
    for (const [name, variable] of this.#variables) {
      result.set(name, { shape: [...variable.shape], data: await variable.data() as Float32Array });
    }
    return result;
  }

  /** Trained values held, as stored for inference (MoSA: one adapter per block). */
  get storedValues(): number {
    return this.#layout.filter((s) => s.form !== "training").reduce(
      (n, s) => n + numel(s.shape),
      0,
    );
  }

  /** Trained values held while training (MoSA: K copies of each split projection). */
  get trainingValues(): number {
    return this.#layout.filter((s) => s.form !== "inference").reduce(
      (n, s) => n + numel(s.shape),
      0,
    );
  }

  /** Frees the variables and MoSA's masks (the base SAM weights are the caller's). */
  dispose(): void {
    tf.dispose([...this.#variables.values()]);
    this.#variables.clear();
    this.#mosa?.dispose();
  }
}

async function readAndDispose(tensor: Tensor): Promise<Float32Array> {
  const data = await tensor.data() as Float32Array;
  tensor.dispose();
  return data;
}
