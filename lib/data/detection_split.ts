/**
 * The in-memory form of a detection dataset split, the same whichever format it was read from
 * (COCO instances JSON, FAIR-1M XML): its classes, optional class groups, and each image's objects
 * as axis-aligned boxes with optional polygons.
 *
 * Coordinates are continuous pixel coordinates of the image: pixel (row r, column c) covers
 * `[c, c + 1) x [r, r + 1)`; a box `[x, y, w, h]` spans `[x, x + w) x [y, y + h)` (COCO's
 * convention, no +1).
 *
 * @module
 */
import type { BoxXywh } from "../image/box.ts";

/** One annotated object. */
export interface DetectionObject {
  /** Index into the split's `classNames`. */
  classIndex: number;
  /** Axis-aligned box, xywh. */
  bbox: BoxXywh;
  /**
   * Area that COCO's area ranges use: the annotation's `area` (its segmentation's area) when the
   * file gives one, else the polygon's area, else `w * h`.
   */
  area: number;
  /** A crowd region (COCO `iscrowd: 1`): matches any number of detections, never counted missed. */
  iscrowd: boolean;
  /** Left out of the positives by the DOTA/FAIR-1M scorer (DOTA's `difficult` flag). */
  difficult: boolean;
  /**
   * COCO annotation id, when the file gives a number: pycocotools' scores depend on it
   * (`coco_ids.ts`: a match on id 0 does not count; a repeated id stands for its last annotation).
   */
  id?: number;
  /** Set only when `id` repeats in the file: whether this is the annotation pycocotools keeps. */
  idKept?: boolean;
  /**
   * Outline(s), each a flat `[x0, y0, x1, y1, ...]` list: COCO polygon segmentation (one object
   * may have several parts), or FAIR-1M's oriented quadrilateral. Absent when the file has none
   * (or gives a COCO RLE mask); mask targets then fall back to the box.
   */
  polygons?: number[][];
}

/** One image of a split and its objects. */
export interface DetectionImage {
  /** COCO `image_id` (for FAIR-1M: the file's numeric stem, or its 1-based position). */
  id: number;
  /** Path of the image file. */
  file: string;
  width: number;
  height: number;
  objects: DetectionObject[];
}

/** A named group of classes, scored as the mean of its classes (FAIR-1M's 5 categories). */
export interface ClassCategory {
  name: string;
  /** Indices into the split's `classNames`. */
  classIndices: number[];
}

/** A detection split: classes and images, sorted by image id. */
export interface DetectionSplit {
  /** The on-disk format it was read from. */
  format: "coco" | "fair1m";
  /** File or folder that messages name (the annotation JSON, or the labelXml folder). */
  source: string;
  /** Split name (`train`, `val`, ...), or the annotation file's stem when given explicitly. */
  split: string;
  classNames: readonly string[];
  /**
   * COCO `category_id` of each class (same order as `classNames`), what a COCO results file
   * names; FAIR-1M classes get `1..C`.
   */
  categoryIds: readonly number[];
  /**
   * Where the classes come from, as one stderr line (FAIR-1M-layout data: FAIR-1M's registry or
   * the data's own names); absent for COCO, whose file lists them.
   */
  classesNote?: string;
  /** Class groups (FAIR-1M's categories); absent when the format has none. */
  categories?: readonly ClassCategory[];
  images: DetectionImage[];
}
