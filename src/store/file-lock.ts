import { createHash, randomUUID } from "node:crypto";
import { link, mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { LockHandle, TokenLock } from "./token-lock.js";

interface Holder {
  owner: string;
  pid: number;
  host: string;
  leaseMs: number;
  /** A release marker: the generation before it is over, the lock is free. */
  released?: boolean;
}
type Read = Holder & { renewedAt: number };

/**
 * A lock for processes on one machine sharing a local store (a SQLite file, a file store), in
 * `directory`. Each holding is a file of its own, one generation after the last: `<key hash>.<n>.lock`,
 * created with `link` (atomic, and it fails if the file exists), naming its holder (pid, host) and its
 * lease; the holder renews the lease by touching it. The newest generation decides: the lock is free
 * when that file is a release marker, or stale (its lease ended, or its pid is gone on this host); then
 * generation n + 1 is created, by exactly one contender. No file is ever replaced or moved back, so an
 * old holder can neither free nor take back the lock of the one after it. The default lock for a
 * `@keyv/sqlite` Keyv on a file (`<db file>.locks/`).
 */
export class FileLock implements TokenLock {
  readonly #directory: string;

  /** `directory` holds the lock files; it is created (mode 0700) on first use. */
  constructor(directory: string) {
    this.#directory = directory;
  }

  async acquire(key: string, leaseMs: number): Promise<LockHandle | undefined> {
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    const slot: Slot = { directory: this.#directory, name: createHash("sha256").update(key).digest("hex").slice(0, 40) };
    const me: Holder = { owner: randomUUID(), pid: process.pid, host: hostname(), leaseMs };
    const newest = await newestGeneration(slot);
    const previous = newest === undefined ? undefined : await readHolder(file(slot, newest));
    if (previous && !previous.released && !isStale(previous)) return undefined;
    const generation = newest === undefined ? 0 : newest + 1;
    if (!(await create(file(slot, generation), me))) return undefined; // another contender took this generation
    // Judged on an old listing (a newer generation exists), or the holder judged stale renewed meanwhile: back off.
    const renewed = previous && !previous.released && (await readHolder(file(slot, newest as number)))?.renewedAt !== previous.renewedAt;
    if ((await newestGeneration(slot)) !== generation || renewed) {
      await unlink(file(slot, generation)).catch(() => undefined);
      return undefined;
    }
    await removeBelow(slot, generation);
    return {
      extend: async () => {
        const now = new Date();
        // Touch first, then check: a takeover that judged the old mtime is then always seen.
        if (!(await utimes(file(slot, generation), now, now).then(() => true, () => false))) return false;
        return (await newestGeneration(slot)) === generation;
      },
      release: async () => {
        // A marker after this generation frees the lock; if a newer generation exists, it is not ours to free.
        if (!(await create(file(slot, generation + 1), { ...me, released: true }))) return;
        await unlink(file(slot, generation)).catch(() => undefined);
      },
    };
  }
}

/** The lock files of one key: `<directory>/<name>.<generation>.lock`. */
interface Slot {
  directory: string;
  name: string;
}

function file(slot: Slot, generation: number): string {
  return join(slot.directory, `${slot.name}.${generation}.lock`);
}

/** The highest generation with a file for this key, if any. */
async function newestGeneration(slot: Slot): Promise<number | undefined> {
  return (await generations(slot)).at(-1);
}

async function generations(slot: Slot): Promise<number[]> {
  const pattern = /^([0-9a-f]+)\.(\d+)\.lock$/;
  const found = (await readdir(slot.directory)).map((name) => pattern.exec(name)).filter((match) => match?.[1] === slot.name);
  return found.map((match) => Number(match?.[2])).sort((a, b) => a - b);
}

/** Old generations are garbage once a newer one is held; a holder of one finds out through `extend`. */
async function removeBelow(slot: Slot, generation: number): Promise<void> {
  for (const old of await generations(slot)) if (old < generation) await unlink(file(slot, old)).catch(() => undefined);
}

/** Creates the file with its whole content at once (link fails if it exists), so no reader sees it half written. */
async function create(path: string, holder: Holder): Promise<boolean> {
  const temporary = `${path}.${holder.owner}.tmp`;
  await writeFile(temporary, JSON.stringify(holder), { mode: 0o600 });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if (code(error) === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** The holder with the lease end read from the file's mtime; undefined when there is no such file. */
async function readHolder(path: string): Promise<Read | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const holder = JSON.parse(text) as Holder;
    return { ...holder, renewedAt: info.mtimeMs };
  } catch (error) {
    if (code(error) === "ENOENT") return undefined;
    // Unreadable content cannot come from `create`; treat it as a holder whose lease has ended.
    return { owner: "", pid: 0, host: "", leaseMs: 0, renewedAt: 0 };
  }
}

function isStale(holder: Read): boolean {
  if (holder.renewedAt + holder.leaseMs < Date.now()) return true;
  return holder.host === hostname() && !isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return code(error) === "EPERM";
  }
}

function code(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}
