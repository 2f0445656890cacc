import { OAuthError, isOAuthError } from "../shared/errors.js";
import { withDeadline } from "./guard-storage.js";
import type { OAuthLogger } from "../shared/oauth-logger.js";
import type { LockHandle, TokenLock } from "./token-lock.js";

export interface LockSettings {
  lock: TokenLock;
  leaseMs: number;
  /** Deadline of each lock command. */
  commandTimeoutMs: number;
  signal: AbortSignal | undefined;
  logger: OAuthLogger;
}

const firstPollMs = 20;
const maxPollMs = 250;

/** What the holder of the lock can check before a step that must not run twice. */
export interface Lease {
  /** Aborted, with a `lock_lost` reason, as soon as the lease is known to have ended. */
  readonly signal: AbortSignal;
  /** Extends the lease now; throws `lock_lost` when this holder no longer has the lock. */
  confirm(): Promise<void>;
}

/**
 * Runs `task` holding the lock `key`, renewing the lease until it settles. While another holder has the
 * lock, `poll` runs between attempts (with a backoff from 20 ms to 250 ms): a value it returns ends the
 * wait without taking the lock, which is how a waiter picks up what the holder stored. Waits at most
 * `waitMs`, then throws `lock_timeout`.
 */
export async function underLock<T>(settings: LockSettings, key: string, waitMs: number, task: (lease: Lease) => Promise<T>, poll: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let delay = firstPollMs; ; delay = Math.min(delay * 2, maxPollMs)) {
    const handle = await take(settings, key);
    if (handle) return holding(settings, handle, task);
    const value = await poll();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new OAuthError("lock_timeout", `another process held the token lock for more than ${waitMs} ms`, { transient: true });
    }
    await sleep(Math.min(delay, left), settings.signal);
  }
}

async function holding<T>(settings: LockSettings, handle: LockHandle, task: (lease: Lease) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let renewedAt = Date.now();
  let settled = false;
  const lose = (): OAuthError => {
    if (!controller.signal.aborted) {
      if (!settled) settings.logger.warn("mcp-oauth: the token lock's lease ended while it was held (another process may take it); a refresh under it is stopped");
      controller.abort(new OAuthError("lock_lost", "the token lock's lease ended while this process held it (another process may be refreshing)", { transient: true }));
    }
    return controller.signal.reason as OAuthError;
  };
  const extend = async () => {
    const sentAt = Date.now();
    if (!(await command(settings, () => handle.extend(settings.leaseMs), "renewing"))) throw lose();
    renewedAt = sentAt;
  };
  const renew = setInterval(() => {
    extend().catch(() => {
      // Renewals that cannot reach the lock: it is lost once a lease has passed since the last one that did.
      if (controller.signal.aborted || settled) return;
      if (Date.now() - renewedAt >= settings.leaseMs) lose();
      else settings.logger.warn("mcp-oauth: could not renew the token lock's lease");
    });
  }, settings.leaseMs / 3);
  renew.unref();
  const lease: Lease = {
    signal: controller.signal,
    confirm: async () => {
      if (controller.signal.aborted) throw lose();
      await extend();
    },
  };
  try {
    return await task(lease);
  } finally {
    settled = true;
    clearInterval(renew);
    // A lock that cannot be released is freed when its lease ends.
    await command(settings, () => handle.release(), "releasing").catch(() => settings.logger.warn("mcp-oauth: could not release the token lock; it frees itself when its lease ends"));
  }
}

/**
 * One attempt to take the lock. An attempt that timed out may still succeed later (a Redis client with
 * an offline queue replays what it queued while reconnecting; the store's own @keyv/redis client has it
 * turned off, a `lock` given by the caller may not): a lock that arrives too late is released at once,
 * or it would block every process for a whole lease.
 */
async function take(settings: LockSettings, key: string): Promise<LockHandle | undefined> {
  const attempt = settings.lock.acquire(key, settings.leaseMs);
  try {
    return await command(settings, () => attempt, "taking");
  } catch (error) {
    attempt.then((late) => late?.release()).catch(() => undefined);
    throw error;
  }
}

async function command<T>(settings: LockSettings, run: () => Promise<T>, doing: string): Promise<T> {
  try {
    return await withDeadline(run(), settings.commandTimeoutMs, `the token lock (${doing})`);
  } catch (cause) {
    if (isOAuthError(cause)) throw cause;
    throw new OAuthError("storage_failed", `token lock: ${doing} the lock failed`, { cause, transient: true });
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OAuthError("aborted", "aborted while waiting for the token lock", { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new OAuthError("aborted", "aborted while waiting for the token lock", { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
