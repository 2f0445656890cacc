import { createHash, randomUUID } from "node:crypto";
import { link, mkdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { LockHandle, TokenLock } from "./token-lock.js";

interface Holder {
  owner: string;
  pid: number;
  host: string;
  leaseMs: number;
}

/**
 * A lock for processes on one machine sharing a local store (a SQLite file, a file store): one lock file
 * per key in `directory`. The file names its holder (pid, host) and its lease; the holder renews the
 * lease by touching the file. A lock whose lease ended, or whose holder's pid is gone on this host, is
 * stale and taken over. The default lock for a `@keyv/sqlite` Keyv on a file (`<db file>.locks/`).
 */
export class FileLock implements TokenLock {
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = directory;
  }

  async acquire(key: string, leaseMs: number): Promise<LockHandle | undefined> {
    await mkdir(this.#directory, { recursive: true, mode: 0o700 });
    const path = join(this.#directory, `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.lock`);
    const me: Holder = { owner: randomUUID(), pid: process.pid, host: hostname(), leaseMs };
    if (!(await create(path, me))) {
      const holder = await readHolder(path);
      if (holder && !isStale(holder)) return undefined;
      // Move the stale file aside, then check it is the one judged stale: another process may have
      // taken the lock over in between, and its fresh file must be put back.
      const aside = `${path}.${me.owner}.stale`;
      if (holder && !(await moveAside(path, aside, holder.owner))) return undefined;
      if (!(await create(path, me))) return undefined;
    }
    return {
      extend: async () => {
        if ((await readHolder(path))?.owner !== me.owner) return false;
        const now = new Date();
        await utimes(path, now, now); // touching another holder's file would only lengthen its lease
        return true;
      },
      release: async () => {
        await moveAside(path, `${path}.${me.owner}.released`, me.owner);
      },
    };
  }
}

/** Creates the lock file with its whole content at once (link fails if it exists), so no reader sees it half written. */
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

/** The holder with the lease end read from the file's mtime; undefined when there is no lock file. */
async function readHolder(path: string): Promise<(Holder & { renewedAt: number }) | undefined> {
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

function isStale(holder: Holder & { renewedAt: number }): boolean {
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

/** Removes the lock file only if `owner` holds it; a file of another owner is put back. */
async function moveAside(path: string, aside: string, owner: string): Promise<boolean> {
  try {
    await rename(path, aside);
  } catch (error) {
    if (code(error) === "ENOENT") return true;
    throw error;
  }
  const moved = await readHolder(aside);
  if (moved && moved.owner !== owner) {
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}

function code(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}
