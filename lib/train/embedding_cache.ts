/**
 * Image embeddings of a frozen encoder, computed once per tile and reused in later epochs: in
 * decoder-only training the encoder's output for a tile never changes, and the encoder is most of
 * a step (vit_b at 1024 px: about 15 s of a 18 s step).
 *
 * Entries stay in memory up to a byte limit and go to `dir` beyond it, one safetensors file per
 * tile, written atomically (so a run stopped at any point leaves whole files only, and a resumed
 * run finds them). A key names the tile unambiguously: the image file (path, size and
 * modification time), the tile's place in it (offset, size, scale, content region) and a scope
 * naming the encoder (e.g. the checkpoint's sha256, the input size and the PEFT configuration).
 *
 * Valid only when the encoder's output is a function of that key alone: nothing before the
 * split trains (the model offers `frozenSplit`) and the reader's tiles are deterministic. The
 * reader applies no random augmentation; if one is ever added, the cache must be switched off
 * with it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { openSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { type Tensor, tf } from "../backend/tf.ts";
import type { SampleTile } from "../data/reader.ts";

/** Options of {@link EmbeddingCache}. */
export interface EmbeddingCacheOptions {
  /** What the embeddings depend on besides the tile (checkpoint, input size, method). */
  scope: string;
  /** Bytes of embeddings held in memory; beyond them entries go to `dir`. Default 1 GiB. */
  memoryBytes?: number;
  /** Folder of the entries past `memoryBytes` (a run's `cache/`); without it they are not kept. */
  dir?: string;
}

/** How the cache has served so far. */
export interface EmbeddingCacheStats {
  /** Tiles whose embeddings came from memory or disk. */
  hits: number;
  /** Tiles whose embeddings had to be computed. */
  misses: number;
  memoryEntries: number;
  diskEntries: number;
}

interface Entry {
  shape: number[];
  data: Float32Array;
}

const TENSOR_NAME = "embedding";

/**
 * A per-tile store of frozen-encoder outputs.
 *
 * @example
 * ```ts ignore
 * const cache = new EmbeddingCache({ scope: `${sha256}:1024:decoder`, dir: "runs/a/cache" });
 * const embeddings = await cache.features(tiles, (images) => split.features(images), images);
 * ```
 */
export class EmbeddingCache {
  readonly options: Readonly<EmbeddingCacheOptions>;
  readonly #memory = new Map<string, Entry>();
  #memoryBytes = 0;
  #onDisk = new Set<string>();
  #stats = { hits: 0, misses: 0 };
  #scanned = false;

  constructor(options: EmbeddingCacheOptions) {
    this.options = options;
  }

  /** Counts of hits, misses and entries. */
  get stats(): EmbeddingCacheStats {
    return { ...this.#stats, memoryEntries: this.#memory.size, diskEntries: this.#onDisk.size };
  }

  /**
   * The embeddings of `tiles` (`[B, ...]`, in their order; the caller disposes it), taken from the
   * cache where present; the others are computed by `encode` on their rows of `images` (in groups
   * of at most `groupSize` tiles) and stored.
   */
  async features(
    tiles: readonly SampleTile[],
    encode: (images: tf.Tensor4D) => Tensor,
    images: tf.Tensor4D,
    groupSize = tiles.length,
  ): Promise<Tensor> {
    await this.#scanDir();
    const keys = await Promise.all(tiles.map((tile) => this.#key(tile)));
    const entries: (Entry | undefined)[] = [];
    for (const key of keys) entries.push(await this.#get(key));
    const missing = entries.flatMap((entry, i) => entry ? [] : [i]);
    this.#stats.hits += tiles.length - missing.length;
    this.#stats.misses += missing.length;
    for (let start = 0; start < missing.length; start += groupSize) {
      const rows = missing.slice(start, start + groupSize);
      const encoded = tf.tidy(() => encode(tf.gather(images, rows)));
      const values = (await encoded.data()) as Float32Array;
      const shape = encoded.shape.slice(1);
      encoded.dispose();
      const size = values.length / rows.length;
      for (const [j, row] of rows.entries()) {
        const entry = { shape, data: values.slice(j * size, (j + 1) * size) };
        entries[row] = entry;
        await this.#put(keys[row]!, entry);
      }
    }
    const shape = entries[0]!.shape;
    const size = entries[0]!.data.length;
    const batch = new Float32Array(size * tiles.length);
    entries.forEach((entry, i) => batch.set(entry!.data, i * size));
    return tf.tensor(batch, [tiles.length, ...shape], "float32");
  }

  /**
   * Writes the entries held in memory to `dir` too (for a run that stops and will be resumed:
   * a new cache on the same `dir` then finds every tile computed so far).
   */
  async persist(): Promise<void> {
    if (this.options.dir === undefined) return;
    for (const [key, entry] of this.#memory) {
      if (!this.#onDisk.has(key)) await this.#write(key, entry);
    }
  }

  /** Removes the entries on disk (and `dir` itself) and forgets those in memory. */
  async remove(): Promise<void> {
    this.#memory.clear();
    this.#memoryBytes = 0;
    this.#onDisk.clear();
    if (this.options.dir === undefined) return;
    await Deno.remove(this.options.dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  async #key(tile: SampleTile): Promise<string> {
    const stat = await Deno.stat(tile.pair.imagePath);
    const identity = JSON.stringify([
      this.options.scope,
      tile.pair.imagePath,
      stat.size,
      stat.mtime?.getTime() ?? null,
      tile.size,
      tile.x,
      tile.y,
      tile.scale,
      tile.validWidth,
      tile.validHeight,
    ]);
    return createHash("sha256").update(identity).digest("hex");
  }

  async #get(key: string): Promise<Entry | undefined> {
    const held = this.#memory.get(key);
    if (held) return held;
    if (!this.#onDisk.has(key)) return undefined;
    const file = await openSafetensors(this.#path(key));
    try {
      return { shape: [...file.info(TENSOR_NAME).shape], data: await file.read(TENSOR_NAME) };
    } finally {
      file.close();
    }
  }

  async #put(key: string, entry: Entry): Promise<void> {
    const bytes = entry.data.byteLength;
    if (this.#memoryBytes + bytes <= (this.options.memoryBytes ?? 2 ** 30)) {
      this.#memory.set(key, entry);
      this.#memoryBytes += bytes;
      return;
    }
    if (this.options.dir !== undefined) await this.#write(key, entry);
  }

  async #write(key: string, entry: Entry): Promise<void> {
    await Deno.mkdir(this.options.dir!, { recursive: true });
    await writeSafetensors(this.#path(key), [{ name: TENSOR_NAME, ...entry }]);
    this.#onDisk.add(key);
  }

  /** Finds the entries a previous (stopped) run left in `dir`. */
  async #scanDir(): Promise<void> {
    if (this.#scanned || this.options.dir === undefined) return;
    this.#scanned = true;
    try {
      for await (const item of Deno.readDir(this.options.dir)) {
        const match = item.isFile && /^([0-9a-f]{64})\.safetensors$/.exec(item.name);
        if (match) this.#onDisk.add(match[1]!);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  #path(key: string): string {
    return `${this.options.dir}/${key}.safetensors`;
  }
}
