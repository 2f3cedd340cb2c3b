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
export {
  densePositionalEncoding,
  maskPromptEmbedding,
  noMaskEmbedding,
  pointEmbeddings,
  pointPositionalEncoding,
} from "./lib/decoder/prompt_encoder.ts";
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
  MOSA_SHARES,
  type MosaShare,
  type PeftConfig,
  validatePeftConfig,
} from "./lib/peft/config.ts";
export {
  type AdapterProjection,
  mosaAssignment,
  mosaDraw,
  mosaSplitProjections,
  type MosaTrainingRules,
  mosaTrainingRules,
  type TrainingPass,
} from "./lib/peft/mosa.ts";
export { classDistributions, klToTarget, symmetricKl } from "./lib/train/consistency_loss.ts";
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
export { defaultSplit, type SplitPurpose } from "./lib/data/split_choice.ts";
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

// Studies: grids of experiments (datasets x methods x seeds), resumable and shardable.
export { verifySplit } from "./lib/data/verify_split.ts";
export {
  BASELINE,
  parseStudy,
  peftConfigOf,
  type Study,
  type StudyDataset,
  StudyFileError,
  type StudyMethod,
} from "./lib/study/study_file.ts";
export { type LoadedStudy, loadStudy } from "./lib/study/load_study.ts";
export { cellDir, cellId, type StudyCell, studyCells } from "./lib/study/cells.ts";
export { type CellCommands, cellCommands, shellLine } from "./lib/study/cell_commands.ts";
export { type Shard, shardCells, shardFromEnvironment } from "./lib/study/shard.ts";
export { type CellLock, readLock, tryLock } from "./lib/study/lock.ts";
export { type CellRecord, readCellRecord } from "./lib/study/cell_record.ts";
export { type CellOutcome, runCell } from "./lib/study/cell_runner.ts";
export { runStudy, type StudyRunSummary } from "./lib/study/run_study.ts";
export { readStudyFolder } from "./lib/study/study_folder.ts";
export { type StudyStatus, studyStatus } from "./lib/study/status.ts";
export { type StudyReport, studyReport } from "./lib/study/report.ts";
export { reportCsv, reportMarkdown } from "./lib/study/report_format.ts";
export { resultsSvg } from "./lib/study/results_svg.ts";
export { THESIS_EFFICIENCY, THESIS_RESULT_TABLES } from "./lib/study/thesis_tables.ts";

// Detection datasets and scores.
export type { BoxXywh } from "./lib/image/box.ts";
export type {
  ClassCategory,
  DetectionImage,
  DetectionObject,
  DetectionSplit,
} from "./lib/data/detection_split.ts";
export { findCocoSplit, parseCocoInstances, readCocoSplit } from "./lib/data/coco.ts";
export { type CocoResult, cocoResultsToEval, toCocoResults } from "./lib/data/coco_results.ts";
export { fair1mClasses, parseFair1mXml, readFair1mSplit } from "./lib/data/fair1m.ts";
export {
  FAIR1M_CLASS_CATEGORIES,
  FAIR1M_CLASS_NAMES,
  fair1mClassName,
} from "./lib/data/fair1m_classes.ts";
export { cocoIdProblems, describeCocoIdProblems } from "./lib/data/coco_ids.ts";
export { mapClassesByName, remapDetectionSplit } from "./lib/data/detection_classes.ts";
export {
  type DatasetLayout,
  detectionLayout,
  loadDetectionSplit,
} from "./lib/data/detection_layout.ts";
export {
  type DetectionTile,
  objectsInTile,
  TILE_KEEP_FRACTION,
} from "./lib/data/detection_tiles.ts";
export { DetectionReader } from "./lib/data/detection_reader.ts";
export { fillBox, fillPolygon, rasterizeObject } from "./lib/image/rasterize.ts";
export type { EvalImage, ScoredDetection } from "./lib/data/detections.ts";
export { boxIou, type CocoEvalOptions, cocoEvaluate } from "./lib/metrics/coco_eval.ts";
export { voc07ApPerClass } from "./lib/metrics/voc07.ts";
export {
  CATEGORY_MEANS_NOTE,
  type DetectionReport,
  type DetectionReportOptions,
  isOtherClass,
  makeDetectionReport,
  mergeDetectionReports,
} from "./lib/metrics/detection_report.ts";

// Detection head, training and inference.
export {
  decodeDetections,
  DEFAULT_QUERIES,
  detectionArchitecture,
  detectionDecoderShapes,
  type DetectionOutput,
  initialDetectionDecoder,
} from "./lib/decoder/detection_head.ts";
export {
  headArchitecture,
  type HeadConfig,
  SEMANTIC_HEAD,
  validateHeadConfig,
} from "./lib/decoder/head.ts";
export {
  type BoxXyxy,
  type MaskBox,
  masksToBoxes,
  maskToBox,
} from "./lib/decoder/masks_to_boxes.ts";
export { type Assignment, minimumCostAssignment } from "./lib/train/hungarian.ts";
export { matchingCosts, matchQueries } from "./lib/train/detection_matching.ts";
export { detectionLoss, type DetectionLossWeights } from "./lib/train/detection_loss.ts";
export { type DetectionTargets, rasteriseTargets } from "./lib/train/detection_targets.ts";
export { detectionBatch } from "./lib/train/detection_batch.ts";
export type { BatchSource, PreparedBatch } from "./lib/train/trainer.ts";
export { classwiseNms } from "./lib/eval/nms.ts";
export { tileDetections, topPairs } from "./lib/eval/detect_tile.ts";
export { type DetectFn, detectImage } from "./lib/eval/detect_image.ts";
export { evaluateDetections, shardImages } from "./lib/eval/detect_evaluate.ts";
export { detectionsSvg, writeDetectionsPng } from "./lib/eval/detect_draw.ts";

// A run as a web page (mopeft web), and a run opened from bytes (what the page fetches).
export { openRunFromBytes, type RunBytes } from "./lib/run/run_bytes.ts";
export { parseSafetensorsBytes, type SafetensorsBytes } from "./lib/io/safetensors_bytes.ts";
export { sha256Bytes } from "./lib/io/sha256_bytes.ts";
export {
  buildSite,
  type BuildSiteOptions,
  bundlePage,
  checkSiteTarget,
  type SiteSummary,
} from "./lib/web/build_site.ts";
export { resolveInside, serveSite, type SiteServer } from "./lib/web/serve.ts";
export { SITE_FILE, type SiteManifest } from "./lib/web/site_manifest.ts";
// ONNX export: encoder (with every PEFT module and gate), head, promptable decoder, model.json.
export {
  checkOutFolder,
  type ExportOptions,
  type ExportResult,
  exportRun,
  writeExport,
} from "./lib/export/export_run.ts";
export { checkExport, type ExportCheck, type OutputDifference } from "./lib/export/check.ts";
export { EXPORT_MANIFEST_FILE, type ExportManifest } from "./lib/export/manifest.ts";
export { buildEncoderGraph } from "./lib/export/encoder_graph.ts";
export { buildHeadGraph } from "./lib/export/head_graph.ts";
export { buildDecoderGraph, promptDecoderWeights } from "./lib/export/decoder_graph.ts";
export { encodeOnnxModel, SUPPORTED_OPSETS, writeOnnxModel } from "./lib/export/onnx_file.ts";
export { OnnxGraph } from "./lib/export/onnx_graph.ts";
export { type OnnxSession, openOnnxSession } from "./lib/export/onnx_runtime.ts";
export {
  type OnnxPredictor,
  openOnnxPredictor,
  readExportManifest,
} from "./lib/export/onnx_predictor.ts";
export { benchOnnxEncoders, type OnnxEncoderBench } from "./lib/export/onnx_bench.ts";
