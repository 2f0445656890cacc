/**
 * A lock shared by every process that uses the same token store, taken around "read the refresh token,
 * refresh, write the new tokens" and around an interactive login. Implementations: `RedisLock`,
 * `FileLock`, `MemoryLock` (this process only). A lock is held for a lease that the holder keeps
 * extending; a holder that dies stops extending, and the lock is free when its lease ends.
 */
export interface TokenLock {
  /** One attempt: a handle when the lock was free (or its lease had ended), `undefined` when another holder has it. */
  acquire(key: string, leaseMs: number): Promise<LockHandle | undefined>;
}

/** A held {@link TokenLock}, as `acquire` returns it: keep its lease alive, then release it. */
export interface LockHandle {
  /** Moves the end of the lease to `leaseMs` from now. False when this holder no longer has the lock. */
  extend(leaseMs: number): Promise<boolean>;
  /** Frees the lock if this holder still has it; never frees another holder's. */
  release(): Promise<void>;
}

/** Shared by every `MemoryLock`: the lock is per process, whichever `OAuth` instance asks. */
const held = new Map<string, { owner: symbol; expiresAt: number }>();

/** Serializes the `OAuth` instances of one process. The default when the store is not Redis or a SQLite file. */
export class MemoryLock implements TokenLock {
  /** Takes the lock on `key` for `leaseMs` if no holder in this process has it (or its lease ended). */
  async acquire(key: string, leaseMs: number): Promise<LockHandle | undefined> {
    const current = held.get(key);
    if (current && current.expiresAt > Date.now()) return undefined;
    const owner = Symbol(key);
    held.set(key, { owner, expiresAt: Date.now() + leaseMs });
    return {
      extend: async (ms) => {
        const entry = held.get(key);
        if (entry?.owner !== owner) return false;
        entry.expiresAt = Date.now() + ms;
        return true;
      },
      release: async () => {
        if (held.get(key)?.owner === owner) held.delete(key);
      },
    };
  }
}
