import type { RateLimiter, RateLimitRule } from "./rate-limit.js";
import { sendRedisCommand, type RedisServerClient } from "./redis-command.js";

/** The Redis client `RedisRateLimiter` takes (the name it was published under). */
export type RedisRateLimitClient = RedisServerClient;

// One round trip, atomic: count, start the window's expiry on the first hit, and say how long it has left.
const hitScript = "local n = redis.call('incr', KEYS[1]) if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end return {n, redis.call('pttl', KEYS[1])}";

/**
 * Rate-limit counters in Redis, so replicas of a server draw on one budget: a fixed window per key
 * (`INCR`, then `PEXPIRE` on the window's first request, in one Lua script). Keys are `prefix` + the
 * limiter key and expire with their window, so Redis holds at most one small counter per active client.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: RedisRateLimitClient | (() => Promise<RedisRateLimitClient>);
  readonly #prefix: string;

  /** `client`, or a function returning a connected client (called for each command). Default prefix `"mcp-oauth:rate:"`. */
  constructor(client: RedisRateLimitClient | (() => Promise<RedisRateLimitClient>), options: { prefix?: string } = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? "mcp-oauth:rate:";
  }

  /**
   * Counts one request against `prefix + key` in Redis; see {@link RateLimiter.hit}. Rejects with the
   * client's error when Redis cannot be reached, or when its reply to the script is not the expected one.
   */
  async hit(key: string, rule: RateLimitRule): Promise<number> {
    const windowMs = rule.windowSeconds * 1000;
    const reply = await this.#send(["EVAL", hitScript, "1", this.#prefix + key, String(windowMs)]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error("unexpected reply from Redis to the rate-limit script");
    const [count, ttlMs] = reply.map(Number) as [number, number];
    if (count <= rule.requests) return 0;
    // A counter without expiry (pttl < 0) cannot happen inside the script; should it, wait a whole window.
    return Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : windowMs) / 1000));
  }

  #send(args: string[]): Promise<unknown> {
    return sendRedisCommand(this.#client, args);
  }
}
