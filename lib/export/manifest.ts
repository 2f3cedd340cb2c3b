/**
 * `model.json`: what an export folder holds and how to use it: each graph's inputs and outputs
 * with their shapes, SAM's preprocessing, how the head's outputs become class maps or
 * detections, class names and palette, the base checkpoint's fingerprint, and the run's method
 * and settings.
 *
 * @module
 */
import type { HeadConfig } from "../decoder/head.ts";
import { PIXEL_MEAN, PIXEL_STD } from "../encoder/preprocess.ts";
import type { OnnxGraph, OnnxValueInfo } from "./onnx_graph.ts";
import { basename } from "node:path";
import type { BaseFingerprint, PeftManifest } from "../peft/run_files.ts";
import { TILE_NMS_IOU } from "../eval/detect_image.ts";
import { MAX_DETECTIONS } from "../eval/detect_tile.ts";
import { classPalette } from "../image/palette.ts";

/** The manifest's file name. */
export const EXPORT_MANIFEST_FILE = "model.json";

/** One graph file's entry. */
export interface ExportedGraph {
  file: string;
  /** The external-data file beside it, when its weights are there. */
  externalData?: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** The content of `model.json`. */
export interface ExportManifest {
  format: "mopeft-onnx";
  version: 1;
  opset: number;
  task: HeadConfig["task"];
  graphs: { encoder: ExportedGraph; head: ExportedGraph; decoder: ExportedGraph };
  preprocessing: {
    colorSpace: "RGB";
    layout: "NCHW";
    range: [0, 255];
    longestSide: number;
    resize: string;
    padding: { side: "bottom-right"; to: [number, number]; value: readonly number[] };
    mean: readonly number[];
    std: readonly number[];
    normalisedInGraph: true;
  };
  postprocessing: Record<string, unknown>;
  classNames: string[];
  /** RGB per class, for colour maps (class 0 black). */
  palette: [number, number, number][];
  baseCheckpoint: { sha256: string; file?: string; architecture: unknown };
  run: {
    method: string;
    config: PeftManifest["config"];
    seed: number;
    head: HeadConfig;
    mosa?: PeftManifest["mosa"];
  };
  /** Which of decoder.onnx's tensors are the run's (the rest are the checkpoint's). */
  decoderWeights: { fromRun: string[]; fromCheckpoint: string };
}

function describe(graph: OnnxGraph, file: string, externalData?: string): ExportedGraph {
  return {
    file,
    ...(externalData ? { externalData } : {}),
    inputs: graph.inputs,
    outputs: graph.outputs,
  };
}

/** Builds the manifest of an export. */
export function exportManifest(options: {
  opset: number;
  imageSize: number;
  run: PeftManifest;
  head: HeadConfig;
  /** The base checkpoint's fingerprint (lib/io/fingerprint.ts), as loaded. */
  fingerprint: BaseFingerprint;
  graphs: {
    encoder: OnnxGraph;
    head: OnnxGraph;
    decoder: OnnxGraph;
  };
  encoderExternalData?: string;
}): ExportManifest {
  const { run, head, imageSize } = options;
  const numClasses = run.classNames.length;
  const flat = head.task === "detection"
    ? classPalette(numClasses + 1).slice(3) // class 0's colour (black) is for the background
    : classPalette(numClasses);
  const palette = Array.from(
    { length: numClasses },
    (_, c) => [flat[3 * c]!, flat[3 * c + 1]!, flat[3 * c + 2]!] as [number, number, number],
  );
  const postprocessing: Record<string, unknown> = head.task === "semantic"
    ? {
      logits:
        "class logits at S/4: upsample bilinearly (half-pixel centres, align_corners=False) " +
        "to S x S, crop to the resized image (top-left), resize bilinearly to the original size, " +
        "argmax over classes",
    }
    : {
      boxes: "xyxy in the S x S input's pixels (x2, y2 exclusive): the tight box of the query's " +
        "mask (logit > 0 after bilinear upsampling to S); 0,0,0,0 for an empty mask. Divide by " +
        "the resize scale S / max(h, w) for original-image pixels",
      scores: "class probability (softmax over the classes and 'no object', that column " +
        "dropped) times the mask's mean sigmoid over its pixels",
      selection: {
        topPairs: MAX_DETECTIONS,
        nmsIou: TILE_NMS_IOU,
        nms: "class-wise, between the tiles of a large image",
        maxDetections: MAX_DETECTIONS,
      },
    };
  const config = run.config;
  return {
    format: "mopeft-onnx",
    version: 1,
    opset: options.opset,
    task: head.task,
    graphs: {
      encoder: describe(options.graphs.encoder, "encoder.onnx", options.encoderExternalData),
      head: describe(options.graphs.head, "head.onnx"),
      decoder: describe(options.graphs.decoder, "decoder.onnx"),
    },
    preprocessing: {
      colorSpace: "RGB",
      layout: "NCHW",
      range: [0, 255],
      longestSide: imageSize,
      resize: "bilinear, longest side to S: scale = S / max(h, w), each side " +
        "floor(side * scale + 0.5); images larger than S are cut into S x S tiles instead",
      padding: { side: "bottom-right", to: [imageSize, imageSize], value: PIXEL_MEAN },
      mean: PIXEL_MEAN,
      std: PIXEL_STD,
      normalisedInGraph: true,
    },
    postprocessing,
    classNames: [...run.classNames],
    palette,
    baseCheckpoint: {
      sha256: options.fingerprint.sha256,
      ...(options.fingerprint.file ? { file: basename(options.fingerprint.file) } : {}),
      architecture: options.fingerprint.architecture,
    },
    run: {
      method: run.method,
      config,
      seed: run.seed,
      head,
      ...(run.mosa ? { mosa: run.mosa } : {}),
    },
    decoderWeights: {
      fromRun: [
        "mask_decoder.transformer.*",
        "mask_decoder.output_upscaling.*",
        "mask_decoder.iou_token.weight",
      ],
      fromCheckpoint: "every other prompt_encoder.* and mask_decoder.* tensor (SAM's mask " +
        "tokens, hypernetworks and IoU head)",
    },
  };
}
