/**
 * Cell locks: a file created exclusively (`O_CREAT | O_EXCL`, atomic on local disks and on NFS
 * v3+), holding the owner's host and process id, and the id of the command it runs for the cell
 * (the `train` child that writes the run folder), so that two processes never run the same cell.
 * A lock is stale, and is taken over, when its process and its child on this host are both gone
 * (a killed study's child finishes its step and checkpoint before it ends), or when its holder
 * (anywhere) has not refreshed it for {@link LOCK_STALE_MS}: holders touch their lock every
 * {@link LOCK_REFRESH_MS}, so that a job killed on another node (a preempted Slurm task, a
 * deleted pod) does not hold its cell forever.
 *
 * @module
 */
import { hostname } from "node:os";

/** Who holds a lock. */
export interface LockOwner {
  host: string;
  pid: number;
  /** ISO time the lock was taken. */
  since: string;
  /** The child process running the cell's current command, while one runs. */
  child?: number;
}

/** A held lock; {@link CellLock.release} removes it. */
export interface CellLock {
  path: string;
  owner: LockOwner;
  /** True when a stale lock of a dead process was taken over. */
  tookOver: LockOwner | null;
  /** Records the child process now running the cell's command (`null`: none runs). */
  setChild(pid: number | null): Promise<void>;
  release(): Promise<void>;
}

/** The lock file of a cell folder. */
export const LOCK_FILE = "lock";

/** How often a holder touches its lock. */
export const LOCK_REFRESH_MS = 30_000;

/** A lock untouched for this long is abandoned, whoever held it. */
export const LOCK_STALE_MS = 10 * 60_000;

/** This process as a lock owner. */
export function currentOwner(): LockOwner {
  return { host: hostname(), pid: Deno.pid, since: new Date().toISOString() };
}

/**
 * Takes the lock at `path`, or returns `null` when a live process (or one on another host) holds
 * it. A stale lock (same host, process gone) is taken over; the takeover itself is guarded by a
 * second exclusive file so that two processes cannot both take over the same stale lock.
 *
 * @example
 * ```ts ignore
 * const lock = await tryLock("out/cells/a/lora/seed-0/lock");
 * if (lock) try { ... } finally { await lock.release(); }
 * ```
 */
export async function tryLock(path: string): Promise<CellLock | null> {
  const owner = currentOwner();
  if (await createExclusive(path, owner)) return heldLock(path, owner, null);
  const holder = await readLock(path);
  if (holder ? !(await isStale(holder, path)) : await recentlyWritten(path)) return null;
  const guard = `${path}.takeover`;
  if (!(await createExclusive(guard, owner))) {
    // Another process is taking it over right now, or died doing so: a dead guard is cleared so
    // the next attempt can proceed.
    const guardOwner = await readLock(guard);
    if (guardOwner && await isStale(guardOwner, guard)) await removeIfPresent(guard);
    return null;
  }
  try {
    // Still the same stale holder (or none)? Then it is ours to replace.
    const again = await readLock(path);
    if (again && !sameOwner(again, holder) && !(await isStale(again, path))) return null;
    if (!again && await recentlyWritten(path)) return null;
    await removeIfPresent(path);
    if (!(await createExclusive(path, owner))) return null;
    return heldLock(path, owner, holder);
  } finally {
    await removeIfPresent(guard);
  }
}

/** Reads a lock file; `null` when there is none (or it is unreadable, e.g. half-written). */
export async function readLock(path: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (typeof parsed?.host === "string" && Number.isInteger(parsed?.pid)) return parsed;
    return null;
  } catch {
    return null;
  }
}

/**
 * True when the lock at `path` held by `owner` is abandoned: its process ran on this host and
 * neither it nor its child (see {@link LockOwner.child}) exists any longer, or the lock has not
 * been refreshed for {@link LOCK_STALE_MS}.
 */
export async function isStale(owner: LockOwner, path: string): Promise<boolean> {
  try {
    const { mtime } = await Deno.stat(path);
    if (mtime && Date.now() - mtime.getTime() > LOCK_STALE_MS) return true;
  } catch {
    return true;
  }
  if (owner.host !== hostname()) return false;
  if (owner.pid === Deno.pid) return false;
  if (await processAlive(owner.pid)) return false;
  return owner.child === undefined || !(await processAlive(owner.child));
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    // State after the command name: Z is a zombie, which has ended (and writes nothing) but
    // waits for a parent that reaps it, as an orphan may where init reaps none.
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return true;
    // No /proc (macOS, BSD): ask kill(1) whether signal 0 can reach the process.
    try {
      await Deno.stat("/proc/self");
      return false;
    } catch {
      const result = await new Deno.Command("kill", {
        args: ["-0", String(pid)],
        stdout: "null",
        stderr: "null",
      }).output();
      return result.success;
    }
  }
}

/**
 * An unreadable lock file is normally one being written this instant; only an old one (its writer
 * died between creating and writing it) is treated as abandoned.
 */
async function recentlyWritten(path: string): Promise<boolean> {
  try {
    const { mtime } = await Deno.stat(path);
    return mtime === null || Date.now() - mtime.getTime() < 60_000;
  } catch {
    return false;
  }
}

function heldLock(path: string, owner: LockOwner, tookOver: LockOwner | null): CellLock {
  const refresh = setInterval(() => {
    const now = new Date();
    Deno.utime(path, now, now).catch(() => {});
  }, LOCK_REFRESH_MS);
  return {
    path,
    owner,
    tookOver,
    setChild: async (pid) => {
      const holder = await readLock(path);
      if (!holder || !sameOwner(holder, owner)) return;
      const { child: _previous, ...mine } = owner;
      const next: LockOwner = pid === null ? mine : { ...mine, child: pid };
      // Replaced whole (temp file, then rename), so that a reader never sees half a lock.
      const temp = `${path}.${owner.pid}.tmp`;
      await Deno.writeTextFile(temp, JSON.stringify(next) + "\n");
      await Deno.rename(temp, path);
    },
    release: async () => {
      clearInterval(refresh);
      const holder = await readLock(path);
      if (holder && sameOwner(holder, owner)) await removeIfPresent(path);
    },
  };
}

async function createExclusive(path: string, owner: LockOwner): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(owner) + "\n"));
  } finally {
    file.close();
  }
  return true;
}

function sameOwner(a: LockOwner | null, b: LockOwner | null): boolean {
  return !!a && !!b && a.host === b.host && a.pid === b.pid && a.since === b.since;
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
