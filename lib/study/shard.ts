/**
 * Splitting a study's cells between processes started by a scheduler (Slurm job arrays,
 * Kubernetes Indexed Jobs, GNU parallel): shard I of N takes cells I, I+N, I+2N, ... of the fixed
 * cell order, so shards never overlap, whatever order they run in.
 *
 * @module
 */

/** Shard `index` of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * The cells of `shard` (all of them without one), in order.
 *
 * @example
 * ```ts
 * shardCells(["a", "b", "c", "d", "e"], { index: 1, count: 2 }); // ["b", "d"]
 * ```
 */
export function shardCells<T>(cells: readonly T[], shard?: Shard): T[] {
  if (!shard) return [...cells];
  checkShard(shard);
  return cells.filter((_, i) => i % shard.count === shard.index);
}

/** Throws a `RangeError` unless `0 <= index < count`. */
export function checkShard(shard: Shard): void {
  if (
    !Number.isSafeInteger(shard.count) || shard.count < 1 || !Number.isSafeInteger(shard.index) ||
    shard.index < 0 || shard.index >= shard.count
  ) {
    throw new RangeError(
      `shard ${shard.index}/${shard.count} does not exist: expected I/N with 0 <= I < N`,
    );
  }
}

/**
 * The shard a scheduler's environment asks for, or `undefined` when none does:
 * `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT` (minus `SLURM_ARRAY_TASK_MIN`, so arrays
 * numbered from 1 work too), or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` with `shards`
 * (`--shards N`, the Job's `completions`).
 *
 * @example
 * ```ts
 * shardFromEnvironment({ SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "8" });
 * // { index: 3, count: 8 }
 * shardFromEnvironment({ JOB_COMPLETION_INDEX: "2" }, 4); // { index: 2, count: 4 }
 * ```
 */
export function shardFromEnvironment(
  environment: Readonly<Record<string, string | undefined>>,
  shards?: number,
): Shard | undefined {
  // An empty variable counts as unset (`SLURM_ARRAY_TASK_ID= mopeft study run ...`).
  const env = Object.fromEntries(
    Object.entries(environment).filter(([, value]) => value !== undefined && value !== ""),
  );
  const integer = (name: string): number => {
    const text = env[name]!;
    if (!/^\d+$/.test(text.trim())) {
      throw new RangeError(`${name}="${text}" is not a non-negative integer`);
    }
    return Number(text);
  };
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    if (env.SLURM_ARRAY_TASK_COUNT === undefined && shards === undefined) {
      throw new RangeError(
        "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor --shards",
      );
    }
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? integer("SLURM_ARRAY_TASK_MIN") : 0;
    const shard = {
      index: integer("SLURM_ARRAY_TASK_ID") - min,
      count: shards ?? integer("SLURM_ARRAY_TASK_COUNT"),
    };
    checkShard(shard);
    return shard;
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (shards === undefined) {
      throw new RangeError("JOB_COMPLETION_INDEX is set: give the Job's completions as --shards N");
    }
    const shard = { index: integer("JOB_COMPLETION_INDEX"), count: shards };
    checkShard(shard);
    return shard;
  }
  return undefined;
}
