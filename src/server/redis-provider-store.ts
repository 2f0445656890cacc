import { ttlOf, type ProviderStore } from "./provider-store.js";
import { sendRedisCommand, type RedisServerClient } from "./redis-command.js";

/** Options of {@link RedisProviderStore}. */
export interface RedisProviderStoreOptions {
  /** Prepended to every key, so several servers (or tests) can share one Redis database. Default `"mcp-oauth:"`. */
  prefix?: string;
}

// INCR and the expiry of a new counter in one atomic step: with two round trips, a crash between them
// would leave a counter that never expires. A counter found without expiry (written by something else,
// or by an older version) gets one too, rather than counting forever.
const incrementScript = "local n = redis.call('incr', KEYS[1]) if n == 1 or redis.call('pttl', KEYS[1]) == -1 then redis.call('pexpire', KEYS[1], ARGV[1]) end return n";

/**
 * A `ProviderStore` in Redis (6.2 or later, for `GETDEL`), shared by every replica of a server. Each
 * operation is one command, so each is atomic on the Redis server: `SET … PX` for `set`, `SET … NX PX`
 * for `add`, `GETDEL` for `take`, and a Lua script (`INCR`, then `PEXPIRE` on the first increment) for
 * `increment`. Expiry is Redis's own: expired keys are never returned and Redis reclaims them itself.
 *
 * `client` is a node-redis client (v4, v5: `createClient()`, also what `@keyv/redis` exports) or an
 * ioredis one, or a function returning a connected client (called for each command); the same clients
 * `RedisRateLimiter` takes. With Redis Cluster, all keys of one provider must be reachable from this client.
 */
export class RedisProviderStore implements ProviderStore {
  readonly #client: RedisServerClient | (() => Promise<RedisServerClient>);
  readonly #prefix: string;

  /** `client`, or a function returning a connected client (called for each command). */
  constructor(client: RedisServerClient | (() => Promise<RedisServerClient>), options: RedisProviderStoreOptions = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? "mcp-oauth:";
  }

  async get(key: string): Promise<string | undefined> {
    return stringReply(await this.#send(["GET", this.#prefix + key]));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#send(["SET", this.#prefix + key, value, "PX", String(ttlOf(ttlMs))]);
  }

  async add(key: string, value: string, ttlMs: number): Promise<boolean> {
    // NX: only when absent (Redis treats an expired key as absent); the reply is OK or nil.
    return (await this.#send(["SET", this.#prefix + key, value, "NX", "PX", String(ttlOf(ttlMs))])) === "OK";
  }

  async take(key: string): Promise<string | undefined> {
    return stringReply(await this.#send(["GETDEL", this.#prefix + key]));
  }

  async delete(key: string): Promise<void> {
    await this.#send(["DEL", this.#prefix + key]);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const reply = Number(await this.#send(["EVAL", incrementScript, "1", this.#prefix + key, String(ttlOf(ttlMs))]));
    if (!Number.isSafeInteger(reply)) throw new Error("unexpected reply from Redis to the increment script");
    return reply;
  }

  #send(args: string[]): Promise<unknown> {
    return sendRedisCommand(this.#client, args);
  }
}

/** A bulk string reply (node-redis: string; ioredis: string or Buffer), nil as undefined. */
function stringReply(reply: unknown): string | undefined {
  if (reply === null || reply === undefined) return undefined;
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return Buffer.from(reply).toString("utf8");
  throw new Error("unexpected reply from Redis: not a string");
}
