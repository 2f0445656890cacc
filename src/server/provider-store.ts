/**
 * Where a `StoreOAuthProvider` keeps its state: a key-value store of strings in which every record
 * expires. Six operations are enough for the whole OAuth server, three of them atomic; implementations
 * here: `MemoryProviderStore` (one process), `RedisProviderStore`, `PostgresProviderStore`.
 *
 * Keys are short printable strings chosen by the provider (a prefix, a record kind, a hash or a random
 * id); values are JSON or decimal numbers. Every write carries a time to live in milliseconds, so nothing
 * the provider writes stays forever: an implementation must never return, count or keep blocking on a
 * record whose TTL has run out, even if it has not removed it yet.
 */
export interface ProviderStore {
  /** The value under `key`, or undefined when there is none or it has expired. */
  get(key: string): Promise<string | undefined>;

  /** Stores `value` under `key` for `ttlMs`, replacing any value and TTL the key had. */
  set(key: string, value: string, ttlMs: number): Promise<void>;

  /**
   * Atomic set-if-absent: stores `value` under `key` for `ttlMs` only if the key holds no live value, and
   * resolves `true` when this call stored it. An expired value counts as absent. Of any number of
   * concurrent calls for one key (from any process sharing the store), exactly one resolves `true` while
   * the key is live: a get-then-set is not enough (Redis `SET NX PX`, SQL `INSERT … ON CONFLICT`). This
   * is what makes a code single use and a refresh token rotate once.
   */
  add(key: string, value: string, ttlMs: number): Promise<boolean>;

  /**
   * Atomic read-and-delete: removes the key and resolves the live value it held, or undefined. Of
   * concurrent calls for one key, at most one gets the value (Redis `GETDEL`, SQL `DELETE … RETURNING`).
   * This is what makes a pending consent single use.
   */
  take(key: string): Promise<string | undefined>;

  /** Removes the key, if present. */
  delete(key: string): Promise<void>;

  /**
   * Atomic counter: adds 1 to the decimal value under `key` and resolves the new value. A key that is
   * absent or expired starts at 1 with a TTL of `ttlMs`; later increments keep that TTL (a fixed window
   * that starts at the first increment), they do not extend it. Concurrent calls never lose a count:
   * n calls on a fresh key resolve 1 … n, each once. Use it only on keys that nothing else writes.
   */
  increment(key: string, ttlMs: number): Promise<number>;
}

/**
 * A TTL as the stores apply it: whole milliseconds, at least 1 (a record that is due now still gets the
 * shortest life, rather than an "expire never" that some stores read into 0 or a negative number).
 */
export function ttlOf(ttlMs: number): number {
  if (!Number.isFinite(ttlMs)) throw new RangeError("a store TTL must be a finite number of milliseconds");
  return Math.max(1, Math.ceil(ttlMs));
}

/** Options of {@link MemoryProviderStore}. */
export interface MemoryProviderStoreOptions {
  /** Clock in ms since the epoch; tests inject one to expire records without waiting. Default `Date.now`. */
  now?: () => number;
  /**
   * How many records each write looks at for expiry, walking the whole table round-robin (so the cost
   * of a write stays constant however large the table is, and expired records are dropped after at most
   * size / sweepBatch further writes). Reads drop an expired record they meet in any case. Default 100.
   */
  sweepBatch?: number;
}

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * A `ProviderStore` in a `Map`, for one process (tests, development, a single replica). Its atomic
 * operations are atomic because each runs without an `await` inside.
 */
export class MemoryProviderStore implements ProviderStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #sweepBatch: number;
  /** Where the incremental sweep goes on; a Map iterator stays valid while entries are added and deleted. */
  #cursor: Iterator<[string, Entry]> | undefined;

  /** Throws a `RangeError` when `sweepBatch` is not a positive integer. */
  constructor(options: MemoryProviderStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    const batch = options.sweepBatch ?? 100;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError("sweepBatch must be a positive integer");
    this.#sweepBatch = batch;
  }

  /** Records held, expired ones not yet swept included (to watch the sweep). */
  get size(): number {
    return this.#entries.size;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#write(key, value, ttlMs);
  }

  async add(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.#live(key)) return false;
    this.#write(key, value, ttlMs);
    return true;
  }

  async take(key: string): Promise<string | undefined> {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return entry?.value;
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const entry = this.#live(key);
    if (!entry) {
      this.#write(key, "1", ttlMs);
      return 1;
    }
    const next = Number(entry.value) + 1;
    if (!Number.isSafeInteger(next)) throw new TypeError("increment on a key that does not hold a counter");
    entry.value = String(next);
    return next;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #write(key: string, value: string, ttlMs: number): void {
    const ttl = ttlOf(ttlMs);
    this.#sweep();
    this.#entries.set(key, { value, expiresAt: this.#now() + ttl });
  }

  /** Looks at the next `sweepBatch` records of the round and drops the expired ones. */
  #sweep(): void {
    const now = this.#now();
    for (let i = 0; i < this.#sweepBatch; i++) {
      this.#cursor ??= this.#entries.entries();
      const next = this.#cursor.next();
      if (next.done) {
        this.#cursor = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}
