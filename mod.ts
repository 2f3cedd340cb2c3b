/**
 * mopeft: fine-tune the Segment Anything Model (SAM) for semantic segmentation with a Mixture of
 * PEFTs (LoRA, prefix tuning, visual prompt tuning, bottleneck and sparse adapters, mixed by
 * learned gates), on tfjs with WebGPU, wasm or cpu backends.
 *
 * The library never prints; the `mopeft` command line (`cli.ts`) is built on it.
 *
 * @example
 * ```ts ignore
 * import { decodeRgb, embedImageFile, loadCheckpoint, useBackend } from "./mod.ts";
 * await useBackend("auto");
 * const sam = await loadCheckpoint("sam_vit_b.safetensors");
 * const embedding = await embedImageFile(sam, "photo.jpg");
 * console.log(embedding.shape); // [1, 256, 64, 64]
 * ```
 *
 * @module
 */

// Backends and the one tfjs entry point.
export { tf } from "./lib/backend/tf.ts";
export {
  BACKEND_NAMES,
  type BackendChoice,
  type BackendName,
  isBackendName,
  useBackend,
} from "./lib/backend/backend.ts";
export {
  backendBytes,
  backendMemoryLimit,
  WASM_HEAP_LIMIT_BYTES,
} from "./lib/backend/backend_memory.ts";
export {
  describeOutOfMemory,
  isOutOfMemory,
  OutOfMemoryError,
} from "./lib/backend/out_of_memory.ts";

// Training memory: steps in micro-batches, and the embedding cache of decoder-only training.
export { batchGradients } from "./lib/train/micro_batch.ts";
export { chooseMicroBatch, estimateStepMemory, planMicroBatch } from "./lib/train/memory_budget.ts";
export { EmbeddingCache } from "./lib/train/embedding_cache.ts";

// Checkpoints: safetensors, .pth, conversion.
export * from "./lib/io/mod.ts";

// The SAM model.
export {
  checkShapes,
  type DecoderArchitecture,
  type EncoderArchitecture,
  expectedShapes,
  inferArchitecture,
  type PromptArchitecture,
  type SamArchitecture,
} from "./lib/encoder/architecture.ts";
export { loadCheckpoint } from "./lib/encoder/checkpoint.ts";
export {
  loadSamWeights,
  type ModelWeights,
  SamWeights,
  type TensorSource,
} from "./lib/encoder/weights.ts";
export { LayeredWeights } from "./lib/encoder/layered_weights.ts";
export {
  architectureOf,
  randomSamTensors,
  type SamSize,
  TINY_SIZE,
  VIT_B_SIZE,
} from "./lib/encoder/random_checkpoint.ts";
export { encodeImage } from "./lib/encoder/image_encoder.ts";
export type { BlockExtension, EncoderExtensions } from "./lib/encoder/block_hooks.ts";
export { embedImageFile, type ImageEmbedding } from "./lib/encoder/embed.ts";
export {
  normalizeAndPad,
  PIXEL_MEAN,
  PIXEL_STD,
  type PreprocessedImage,
  preprocessImage,
} from "./lib/encoder/preprocess.ts";
export { decodeMasks, type MaskPrediction } from "./lib/decoder/mask_decoder.ts";
export { densePositionalEncoding, noMaskEmbedding } from "./lib/decoder/prompt_encoder.ts";
export { postprocessMasks } from "./lib/decoder/postprocess.ts";
export {
  initialSemanticDecoder,
  semanticArchitecture,
  semanticDecoderNames,
} from "./lib/decoder/semantic_head.ts";

// Images.
export { decodeRgb, type RasterImage } from "./lib/image/decode.ts";
export { longestSideSize, resizeImage } from "./lib/image/resize.ts";
export { readLabelPng, writeLabelPng } from "./lib/image/label_png.ts";

// PEFT methods.
export {
  type AdapterKind,
  defaultPeftConfig,
  type PeftConfig,
  validatePeftConfig,
} from "./lib/peft/config.ts";
export {
  isMethodName,
  METHOD_NAMES,
  type MethodName,
  METHODS,
  type MethodSpec,
} from "./lib/peft/registry.ts";

// Datasets and metrics.
export { findDataset, findDatasetByFolder, MESS_DATASETS } from "./lib/data/registry.ts";
export { resolveDataset } from "./lib/data/resolve.ts";
export { loadSplit } from "./lib/data/split.ts";
export { SegmentationReader } from "./lib/data/reader.ts";
export { cutTiles, planTiles } from "./lib/data/tiler.ts";
export { TileStitcher } from "./lib/data/stitcher.ts";
export { ConfusionMatrix } from "./lib/metrics/confusion.ts";
export { computeScores } from "./lib/metrics/scores.ts";
export {
  makeScoreReport,
  mergeScores,
  parseScoreReport,
  type ScoreReport,
} from "./lib/metrics/report.ts";
