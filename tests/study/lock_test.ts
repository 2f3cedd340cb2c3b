import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { hostname } from "node:os";
import { LOCK_STALE_MS, readLock, tryLock } from "../../lib/study/lock.ts";

Deno.test("a cell lock is exclusive and released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_lock_" });
  const path = `${dir}/lock`;
  const first = await tryLock(path);
  ok(first);
  assertEquals((await readLock(path))?.pid, Deno.pid);
  // This process's own lock is live: a second attempt gets nothing.
  assertEquals(await tryLock(path), null);
  await first.release();
  assertEquals(await readLock(path), null);
  // Many at once: exactly one wins.
  const racers = await Promise.all(Array.from({ length: 8 }, () => tryLock(path)));
  const winners = racers.filter((lock) => lock !== null);
  assertEquals(winners.length, 1);
  await winners[0]!.release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a dead local process's lock is taken over; another host's is left alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mopeft_lock_" });
  const path = `${dir}/lock`;
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  const deadPid = child.pid;
  child.kill("SIGKILL");
  await child.status;
  const stale = { host: hostname(), pid: deadPid, since: "2026-01-01T00:00:00.000Z" };
  await Deno.writeTextFile(path, JSON.stringify(stale));
  const lock = await tryLock(path);
  ok(lock);
  assertEquals(lock.tookOver, stale);
  assertEquals((await readLock(path))?.pid, Deno.pid);
  await lock.release();

  const remote = { host: `not-${hostname()}`, pid: deadPid, since: "2026-01-01T00:00:00.000Z" };
  await Deno.writeTextFile(path, JSON.stringify(remote));
  assertEquals(await tryLock(path), null);
  assertEquals(await readLock(path), remote);
  // ...until its holder has not refreshed it for LOCK_STALE_MS (a job killed on another node).
  const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
  await Deno.utime(path, old, old);
  const takeover = await tryLock(path);
  ok(takeover);
  assertEquals(takeover.tookOver, remote);
  await takeover.release();

  // A live local process (this test's sleeping child) keeps its lock...
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  await Deno.writeTextFile(path, JSON.stringify({ ...stale, pid: sleeper.pid }));
  assertEquals(await tryLock(path), null);
  // ...and so does a dead holder's child that still runs (a killed study's train).
  await Deno.writeTextFile(path, JSON.stringify({ ...stale, child: sleeper.pid }));
  assertEquals(await tryLock(path), null);
  await Deno.writeTextFile(path, JSON.stringify({ ...stale, child: deadPid }));
  const afterChild = await tryLock(path);
  ok(afterChild, "holder and child both gone");
  // The holder names the child that runs the cell's command, and forgets it when it ends.
  await afterChild.setChild(sleeper.pid);
  assertEquals((await readLock(path))?.child, sleeper.pid);
  assertEquals((await readLock(path))?.pid, Deno.pid);
  await afterChild.setChild(null);
  assertEquals((await readLock(path))?.child, undefined);
  await afterChild.release();
  ok(!(await Deno.stat(path).then(() => true, () => false)), "released");
  sleeper.kill("SIGKILL");
  await sleeper.status;
  await Deno.remove(dir, { recursive: true });
});
