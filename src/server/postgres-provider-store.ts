import { ttlOf, type ProviderStore } from "./provider-store.js";

/**
 * What `PostgresProviderStore` needs of its connection: a `pg` `Pool` (or `Client`, or anything with the
 * same `query(text, values)` returning `{ rows }`). Pass a pool, so replicas' concurrent requests do not
 * queue behind one connection.
 */
export interface PostgresQueryable {
  /** Runs one statement with positional parameters (`$1`, `$2`...) and resolves its rows. */
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of {@link PostgresProviderStore}. */
export interface PostgresProviderStoreOptions {
  /**
   * The table, optionally schema-qualified (`"auth.mcp_oauth_store"`). It is written into the SQL
   * (identifiers cannot be query parameters), so it must be lower-case letters, digits and `_`, starting
   * with a letter or `_`, at most 63 characters per part; anything else throws. Default `"mcp_oauth_store"`.
   */
  table?: string;
  /**
   * Expired rows are never read, but they take space until deleted. A write starts a sweep in the
   * background when the last one in this process began at least this long ago, so each replica sweeps at
   * most once per interval. Default 300000 (5 minutes).
   */
  sweepIntervalMs?: number;
  /** Rows one sweep statement deletes at most, so a sweep never holds many row locks at once. Default 1000. */
  sweepBatchSize?: number;
  /**
   * Statements one sweep runs at most (it stops earlier at a batch that is not full), so a sweep after a
   * long pause is bounded too: at most `sweepBatchSize × sweepMaxBatches` rows per interval per replica;
   * the rest go in the next sweeps. Default 10.
   */
  sweepMaxBatches?: number;
  /** Receives the error of a failed background sweep (a sweep is never retried before the next interval). Default `console.error`. */
  onSweepError?: (error: unknown) => void;
  /** Clock in ms for the sweep interval only; expiry is always the database's clock. Default `Date.now`. */
  now?: () => number;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;
// One clock for every replica: the database's. The statement's timestamp, so that all uses in one
// statement agree.
const now = "statement_timestamp()";
/** The expiry of a TTL in ms passed as parameter `param`. */
const expiry = (param: string) => `${now} + ${param}::double precision * interval '1 millisecond'`;

/**
 * A `ProviderStore` in one PostgreSQL table, shared by every replica of a server:
 *
 * ```sql
 * CREATE TABLE IF NOT EXISTS mcp_oauth_store (
 *   key        text PRIMARY KEY,
 *   value      text NOT NULL,
 *   expires_at timestamptz NOT NULL
 * );
 * CREATE INDEX IF NOT EXISTS mcp_oauth_store_expires_at_idx ON mcp_oauth_store (expires_at);
 * ```
 *
 * (`ensureSchema()` runs exactly this.) Every read filters out rows whose `expires_at` has passed, by the
 * database's clock. Each operation is one statement, so each is atomic under PostgreSQL's default READ
 * COMMITTED isolation: `add` is `INSERT … ON CONFLICT DO UPDATE … WHERE` the existing row has expired
 * `RETURNING`, `take` is `DELETE … RETURNING`, `increment` an upsert `RETURNING` the new count. Expired rows
 * are deleted by a background sweep, in batches (see `sweepIntervalMs`, `sweepBatchSize`,
 * `sweepMaxBatches`), or by calling `sweep()` from a job of your own.
 */
export class PostgresProviderStore implements ProviderStore {
  readonly #db: PostgresQueryable;
  readonly #table: string;
  readonly #index: string;
  readonly #sweepIntervalMs: number;
  readonly #sweepBatchSize: number;
  readonly #sweepMaxBatches: number;
  readonly #onSweepError: (error: unknown) => void;
  readonly #now: () => number;
  #sweptAt = -Infinity;
  #sweeping: Promise<number> | undefined;

  /**
   * Creates no table: call {@link PostgresProviderStore.ensureSchema} once, or create it yourself. Throws a
   * `RangeError` for a `table` that is not a plain identifier, or a sweep setting that is not a positive integer.
   */
  constructor(pool: PostgresQueryable, options: PostgresProviderStoreOptions = {}) {
    const table = options.table ?? "mcp_oauth_store";
    if (!identifier.test(table)) throw new RangeError("table must be a lower-case SQL identifier, optionally schema-qualified (letters, digits, _)");
    const positive = (value: number | undefined, fallback: number, name: string) => {
      const n = value ?? fallback;
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
      return n;
    };
    this.#db = pool;
    this.#table = table;
    this.#index = `${table.split(".").pop() ?? table}_expires_at_idx`;
    this.#sweepIntervalMs = positive(options.sweepIntervalMs, 300_000, "sweepIntervalMs");
    this.#sweepBatchSize = positive(options.sweepBatchSize, 1000, "sweepBatchSize");
    this.#sweepMaxBatches = positive(options.sweepMaxBatches, 10, "sweepMaxBatches");
    this.#onSweepError = options.onSweepError ?? ((error) => console.error("mcp-oauth server: sweeping expired rows failed", error));
    this.#now = options.now ?? Date.now;
  }

  /** Creates the table and its index when missing (the schema in the class documentation). Idempotent. */
  async ensureSchema(): Promise<void> {
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${this.#table} (key text PRIMARY KEY, value text NOT NULL, expires_at timestamptz NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS ${this.#index} ON ${this.#table} (expires_at)`,
    ];
    for (const statement of statements) {
      try {
        await this.#db.query(statement, []);
      } catch {
        // Two replicas creating the table at once: one of them fails on the catalog's unique index even
        // with IF NOT EXISTS. Once the other has committed, the statement is a no-op.
        await this.#db.query(statement, []);
      }
    }
  }

  async get(key: string): Promise<string | undefined> {
    const { rows } = await this.#db.query(`SELECT value FROM ${this.#table} WHERE key = $1 AND expires_at > ${now}`, [key]);
    return valueOf(rows[0]);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#db.query(
      `INSERT INTO ${this.#table} (key, value, expires_at) VALUES ($1, $2, ${expiry("$3")})
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      [key, value, ttlOf(ttlMs)],
    );
    this.#maybeSweep();
  }

  async add(key: string, value: string, ttlMs: number): Promise<boolean> {
    // The conflicting row is locked and re-read before the WHERE: of concurrent adds, one inserts (or
    // replaces an expired row) and the others see its live row and return nothing.
    const { rows } = await this.#db.query(
      `INSERT INTO ${this.#table} AS t (key, value, expires_at) VALUES ($1, $2, ${expiry("$3")})
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE t.expires_at <= ${now}
       RETURNING 1 AS stored`,
      [key, value, ttlOf(ttlMs)],
    );
    this.#maybeSweep();
    return rows.length === 1;
  }

  async take(key: string): Promise<string | undefined> {
    // An expired row is deleted as well, but not returned.
    const { rows } = await this.#db.query(`DELETE FROM ${this.#table} WHERE key = $1 RETURNING value, expires_at > ${now} AS live`, [key]);
    const row = rows[0] as { live?: unknown } | undefined;
    return row?.live === true ? valueOf(row) : undefined;
  }

  async delete(key: string): Promise<void> {
    await this.#db.query(`DELETE FROM ${this.#table} WHERE key = $1`, [key]);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const { rows } = await this.#db.query(
      `INSERT INTO ${this.#table} AS t (key, value, expires_at) VALUES ($1, '1', ${expiry("$2")})
       ON CONFLICT (key) DO UPDATE SET
         value = CASE WHEN t.expires_at <= ${now} THEN '1' ELSE (t.value::bigint + 1)::text END,
         expires_at = CASE WHEN t.expires_at <= ${now} THEN excluded.expires_at ELSE t.expires_at END
       RETURNING value`,
      [key, ttlOf(ttlMs)],
    );
    this.#maybeSweep();
    const count = Number(valueOf(rows[0]));
    if (!Number.isSafeInteger(count)) throw new Error("unexpected result of the increment statement");
    return count;
  }

  /**
   * Deletes expired rows now: batches of `sweepBatchSize`, until a batch is not full or `sweepMaxBatches`
   * ran. Resolves the number of rows deleted. Rows another statement holds locked are skipped (the next
   * sweep gets them). One sweep at a time per store object: a call during a sweep gets that sweep's result.
   */
  sweep(): Promise<number> {
    this.#sweptAt = this.#now();
    this.#sweeping ??= this.#sweepBatches().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweepBatches(): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < this.#sweepMaxBatches; batch++) {
      const { rows } = await this.#db.query(
        `DELETE FROM ${this.#table} WHERE key IN (
           SELECT key FROM ${this.#table} WHERE expires_at <= ${now} ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ) AND expires_at <= ${now} RETURNING 1`,
        [this.#sweepBatchSize],
      );
      deleted += rows.length;
      if (rows.length < this.#sweepBatchSize) break;
    }
    return deleted;
  }

  #maybeSweep(): void {
    if (this.#sweeping || this.#now() - this.#sweptAt < this.#sweepIntervalMs) return;
    this.sweep().catch(this.#onSweepError);
  }
}

function valueOf(row: unknown): string | undefined {
  const value = (row as { value?: unknown } | undefined)?.value;
  return typeof value === "string" ? value : undefined;
}
