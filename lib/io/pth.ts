/**
 * Reading PyTorch checkpoints (`torch.save` files in the ZIP format PyTorch has written by default
 * since 1.6, such as `sam_vit_b_01ec64.pth`). The archive holds `data.pkl`, a pickle of the state
 * dict in which every tensor refers to a storage entry `data/<key>` by a persistent id, and those
 * raw little-endian storages. Tensors are read by offset, one at a time, and converted to float32.
 *
 * @module
 */
import { rethrowWithPrefix } from "./_file_errors.ts";
import { bytesPerElement, decodeToFloat32, numelOf, type TensorDtype } from "./dtype.ts";
import { type PickleGlobals, unpickle } from "./pickle.ts";
import { openZip, type ZipArchive, type ZipEntry } from "./zip.ts";

/** A tensor in a PyTorch checkpoint: where its values lie, not the values themselves. */
export interface PthTensorInfo {
  readonly name: string;
  /** The storage's element type (converted to float32 on read). */
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Element strides into the storage; a transposed tensor has non-row-major strides. */
  readonly strides: readonly number[];
  /** Index of the first element in the storage. */
  readonly storageOffset: number;
  /** The storage's archive entry name (several tensors may share one). */
  readonly storageKey: string;
}

/**
 * An open PyTorch checkpoint whose state dict has been parsed. Call {@link close} when done.
 *
 * @example
 * ```ts ignore
 * const checkpoint = await readPth("sam_vit_b_01ec64.pth");
 * console.log(checkpoint.names.length); // 314
 * const qkv = await checkpoint.read("image_encoder.blocks.0.attn.qkv.weight"); // 2304 * 768 values
 * checkpoint.close();
 * ```
 */
export class PthCheckpoint {
  /** The path the checkpoint was opened with. */
  readonly path: string;
  #zip: ZipArchive;
  #prefix: string;
  #tensors: Map<string, PthTensorInfo>;

  constructor(path: string, zip: ZipArchive, prefix: string, tensors: PthTensorInfo[]) {
    this.path = path;
    this.#zip = zip;
    this.#prefix = prefix;
    this.#tensors = new Map(tensors.map((info) => [info.name, info]));
  }

  /** State-dict keys, in the checkpoint's order, unchanged. */
  get names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** Whether the state dict has a tensor called `name`. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** Dtype, shape and storage location of tensor `name`. */
  info(name: string): PthTensorInfo {
    const info = this.#tensors.get(name);
    if (!info) throw new Error(`${readPrefix(this.path)}: no tensor named "${name}"`);
    return info;
  }

  /**
   * Reads tensor `name` as a contiguous row-major float32 array, following its storage offset and
   * strides. Only the span of the storage the tensor covers is read.
   */
  async read(name: string): Promise<Float32Array> {
    const info = this.info(name);
    try {
      const numel = numelOf(info.shape);
      if (numel === 0) return new Float32Array(0);
      const elementSize = bytesPerElement(info.dtype);
      // Highest element index the view touches; torch strides are never negative.
      let span = 1;
      for (let d = 0; d < info.shape.length; d++) span += (info.shape[d]! - 1) * info.strides[d]!;
      const entry = `${this.#prefix}data/${info.storageKey}`;
      const bytes = await this.#zip.readRange(
        entry,
        info.storageOffset * elementSize,
        span * elementSize,
      );
      const values = decodeToFloat32(info.dtype, bytes);
      // Row-major means span === numel, and `values` already is the tensor (in a fresh buffer).
      return isRowMajor(info.shape, info.strides)
        ? values
        : gatherStrided(values, info.shape, info.strides);
    } catch (error) {
      rethrowWithPrefix(error, readPrefix(this.path));
    }
  }

  /** Closes the checkpoint file. */
  close(): void {
    this.#zip.close();
  }
}

/**
 * Opens a PyTorch ZIP checkpoint and parses its state dict (keys unchanged). A checkpoint whose
 * top-level dict wraps the state dict under `"model"` or `"state_dict"` is accepted too. Tensor
 * values are read later, one at a time, with {@link PthCheckpoint.read}.
 *
 * Only the globals a state dict of tensors needs are allowed in the pickle; anything else (numpy
 * arrays, custom classes) is refused with an error that names it. Nothing is executed.
 *
 * @example
 * ```ts ignore
 * const checkpoint = await readPth("sam_vit_b_01ec64.pth");
 * console.log(checkpoint.info("image_encoder.pos_embed").shape); // [1, 64, 64, 768]
 * checkpoint.close();
 * ```
 */
export async function readPth(path: string): Promise<PthCheckpoint> {
  const prefix = readPrefix(path);
  let zip: ZipArchive | undefined;
  try {
    await rejectNonZip(path);
    zip = await openZip(path);
    const archivePrefix = findArchivePrefix(zip);
    await checkByteOrder(zip, archivePrefix);
    const storages = new Map<string, StorageRef>();
    const root = unpickle(await zip.readEntry(`${archivePrefix}data.pkl`), {
      globals: TORCH_GLOBALS,
      persistentLoad: (pid) => loadStorage(pid, zip!, archivePrefix, storages),
    });
    const tensors = extractStateDict(root);
    return new PthCheckpoint(path, zip, archivePrefix, tensors);
  } catch (error) {
    zip?.close();
    rethrowWithPrefix(error, prefix);
  }
}

/** A storage met in the pickle: its element type and size, before any byte is read. */
interface StorageRef {
  readonly kind: "storage";
  readonly dtype: TensorDtype;
  readonly key: string;
  readonly numel: number;
}

/** A tensor built by `_rebuild_tensor_v2`, waiting to learn its state-dict name. */
interface TensorRef {
  readonly kind: "tensor";
  readonly storage: StorageRef;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
}

/** A storage class such as `torch.FloatStorage`: says which dtype a storage holds. */
interface StorageType {
  readonly kind: "storage type";
  readonly dtype: TensorDtype;
}

/** A dtype object such as `torch.float32`, which newer torch versions may pickle. */
interface DtypeMarker {
  readonly kind: "dtype";
  readonly dtype: TensorDtype;
}

const STORAGE_DTYPES: Record<string, TensorDtype> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

const DTYPE_NAMES: Record<string, TensorDtype> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** Everything a pickled state dict may name. Each entry only builds plain data. */
const TORCH_GLOBALS: PickleGlobals = new Map<string, unknown>([
  ["collections.OrderedDict", () => new Map()],
  ["torch._utils._rebuild_tensor_v2", rebuildTensor],
  // Older files: the same without requires_grad and hooks.
  ["torch._utils._rebuild_tensor", rebuildTensor],
  // nn.Parameter values (state_dict(keep_vars=True), or a hand-built dict): keep the tensor.
  ["torch._utils._rebuild_parameter", (data: unknown) => data],
  ["torch._utils._rebuild_parameter_with_state", (data: unknown) => data],
  ...Object.entries(STORAGE_DTYPES).map(([name, dtype]): [string, StorageType] => [
    `torch.${name}`,
    { kind: "storage type", dtype },
  ]),
  ...Object.entries(DTYPE_NAMES).map(([name, dtype]): [string, DtypeMarker] => [
    `torch.${name}`,
    { kind: "dtype", dtype },
  ]),
]);

function rebuildTensor(storage: unknown, storageOffset: unknown, size: unknown, stride: unknown) {
  if (!isStorageRef(storage)) throw new TypeError("a tensor's storage is not a torch storage");
  if (!isIndex(storageOffset) || !isIndexList(size) || !isIndexList(stride)) {
    throw new TypeError("a tensor's offset, size or stride is not made of non-negative integers");
  }
  if (size.length !== stride.length) {
    throw new TypeError(`a tensor has size [${size}] but stride [${stride}]`);
  }
  if (numelOf(size) > 0) {
    let last = storageOffset;
    for (let d = 0; d < size.length; d++) last += (size[d]! - 1) * stride[d]!;
    if (last >= storage.numel) {
      throw new RangeError(
        `a tensor of size [${size}], stride [${stride}] at offset ${storageOffset} reaches ` +
          `past its ${storage.numel}-element storage "${storage.key}"`,
      );
    }
  }
  const tensor: TensorRef = {
    kind: "tensor",
    storage,
    storageOffset,
    shape: size,
    strides: stride,
  };
  return tensor;
}

/** Persistent id `("storage", storage_type, key, location, numel)` → a checked StorageRef. */
function loadStorage(
  pid: unknown,
  zip: ZipArchive,
  archivePrefix: string,
  storages: Map<string, StorageRef>,
): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length !== 5) {
    throw new TypeError(`unsupported persistent id ${describeValue(pid)}`);
  }
  const [, storageType, key, , numel] = pid;
  const dtype = (storageType as StorageType | DtypeMarker | undefined)?.dtype;
  if (dtype === undefined || typeof key !== "string" || !isIndex(numel)) {
    throw new TypeError(`unsupported persistent id ${describeValue(pid)}`);
  }
  const known = storages.get(key);
  if (known) return known;
  const entry: ZipEntry | undefined = zip.entry(`${archivePrefix}data/${key}`);
  if (!entry) throw new TypeError(`storage "${key}" has no data/${key} entry in the archive`);
  const expectedBytes = numel * bytesPerElement(dtype);
  if (entry.uncompressedSize !== expectedBytes) {
    throw new RangeError(
      `storage "${key}" holds ${entry.uncompressedSize} bytes, expected ${expectedBytes} ` +
        `(${numel} ${dtype} elements)`,
    );
  }
  const storage: StorageRef = { kind: "storage", dtype, key, numel };
  storages.set(key, storage);
  return storage;
}

/** The state dict itself, or one wrapped under "model" / "state_dict". */
function extractStateDict(root: unknown): PthTensorInfo[] {
  if (!(root instanceof Map)) {
    throw new TypeError(`the checkpoint holds ${describeValue(root)}, not a dict of tensors`);
  }
  if (isDictOfTensors(root)) return toTensorInfos(root);
  for (const wrapperKey of ["state_dict", "model"]) {
    const inner = root.get(wrapperKey);
    if (inner instanceof Map && isDictOfTensors(inner)) return toTensorInfos(inner);
  }
  const keys = [...root.keys()].slice(0, 8).map((key) => JSON.stringify(key)).join(", ");
  throw new TypeError(
    `the checkpoint is a dict with keys [${keys}${root.size > 8 ? ", ..." : ""}] whose values ` +
      `are not all tensors, and it has no "model" or "state_dict" dict of tensors`,
  );
}

function isDictOfTensors(dict: Map<unknown, unknown>): boolean {
  if (dict.size === 0) return false;
  for (const [key, value] of dict) {
    if (typeof key !== "string" || !isTensorRef(value)) return false;
  }
  return true;
}

function toTensorInfos(dict: Map<unknown, unknown>): PthTensorInfo[] {
  // BUILD state (the `_metadata` of nn.Module.state_dict) is not part of the tensors: dropped.
  return [...dict].map(([name, value]) => {
    const tensor = value as TensorRef;
    return {
      name: name as string,
      dtype: tensor.storage.dtype,
      shape: tensor.shape,
      strides: tensor.strides,
      storageOffset: tensor.storageOffset,
      storageKey: tensor.storage.key,
    };
  });
}

/** Torch names the archive's top folder after the file; find it from the `data.pkl` entry. */
function findArchivePrefix(zip: ZipArchive): string {
  const pickles = zip.entries.filter((entry) =>
    entry.name === "data.pkl" || /^[^/]+\/data\.pkl$/.test(entry.name)
  );
  if (pickles.length !== 1) {
    throw new TypeError(
      pickles.length === 0
        ? "the ZIP archive has no data.pkl, so it is not a PyTorch checkpoint"
        : "the ZIP archive has several data.pkl entries",
    );
  }
  return pickles[0]!.name.slice(0, -"data.pkl".length);
}

async function checkByteOrder(zip: ZipArchive, archivePrefix: string): Promise<void> {
  const entry = zip.entry(`${archivePrefix}byteorder`);
  if (!entry) return; // absent before torch 2.1; those files are little-endian
  const order = new TextDecoder().decode(await zip.readEntry(entry)).trim();
  if (order !== "little") {
    throw new TypeError(
      `storages are ${order}-endian; only little-endian checkpoints are supported`,
    );
  }
}

/** Distinguishes the legacy (pre-1.6) format and plain garbage before the ZIP reader does. */
async function rejectNonZip(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(4);
    const count = await file.read(head) ?? 0;
    if (count === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
      return;
    }
    if (count >= 2 && head[0] === 0x80 && head[1]! <= 5) {
      throw new TypeError(
        "this is a legacy (pre-1.6, non-ZIP) PyTorch checkpoint, which is not supported; " +
          "re-save it with torch.save(torch.load(path), path)",
      );
    }
    throw new TypeError("not a PyTorch checkpoint (no ZIP signature at the start)");
  } finally {
    file.close();
  }
}

function isRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d]! !== 1 && strides[d]! !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/** Copies a strided view (indices relative to its first element) into a row-major array. */
function gatherStrided(
  source: Float32Array,
  shape: readonly number[],
  strides: readonly number[],
): Float32Array {
  const out = new Float32Array(numelOf(shape));
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let sourceIndex = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[sourceIndex]!;
    // Odometer increment over the dimensions, last dimension fastest.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      sourceIndex += strides[d]!;
      if (index[d]! < shape[d]!) break;
      sourceIndex -= strides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

function readPrefix(path: string): string {
  return `Cannot read PyTorch checkpoint "${path}"`;
}

function isStorageRef(value: unknown): value is StorageRef {
  return (value as StorageRef | null)?.kind === "storage";
}

function isTensorRef(value: unknown): value is TensorRef {
  return (value as TensorRef | null)?.kind === "tensor";
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIndexList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isIndex);
}

function describeValue(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Map) return "a dict";
  if (Array.isArray(value)) return Object.isFrozen(value) ? "a tuple" : "a list";
  if (typeof value === "object") return `a ${(value as { kind?: string }).kind ?? "object"}`;
  return `a ${typeof value}`;
}
