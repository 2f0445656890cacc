import { randomUUID } from "node:crypto";
import type { LockHandle, TokenLock } from "./token-lock.js";

/** A node-redis client (v4, v5: `sendCommand(args)`) or an ioredis one (`call(command, ...args)`). */
export type RedisCommandClient =
  | {
      /** node-redis: sends one command given as its words (`["SET", key, value, ...]`) and resolves its reply. */
      sendCommand(args: string[]): Promise<unknown>;
    }
  | {
      /** ioredis: sends `command` with `args` and resolves its reply. */
      call(command: string, ...args: string[]): Promise<unknown>;
    };

/** Options of {@link RedisLock}. */
export interface RedisLockOptions {
  /** Prepended to every lock key, e.g. a Keyv namespace followed by `:`. Default none. */
  prefix?: string;
}

// Owner-checked: a holder whose lease ran out must not extend or delete the next holder's lock.
const extendScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const releaseScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * A lock for processes on any number of machines sharing one Redis: `SET key owner NX PX lease` to take
 * it, Lua compare-and-delete to release it. The default lock when `tokenStorage` is a `@keyv/redis` Keyv
 * (its own client is used). For Redis Cluster or Sentinel, pass a client that routes the key.
 */
export class RedisLock implements TokenLock {
  readonly #client: RedisCommandClient | (() => Promise<RedisCommandClient>);
  readonly #prefix: string;

  /** `client`, or a function returning a connected client (called for each command). */
  constructor(client: RedisCommandClient | (() => Promise<RedisCommandClient>), options: RedisLockOptions = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? "";
  }

  /**
   * Takes the lock on `prefix + key` for `leaseMs` (`SET NX PX`) if it is free. Rejects with the client's
   * error when Redis cannot be reached; the token flow reports that as `storage_failed`.
   */
  async acquire(key: string, leaseMs: number): Promise<LockHandle | undefined> {
    const name = this.#prefix + key;
    const owner = randomUUID();
    const reply = await this.#send(["SET", name, owner, "NX", "PX", String(Math.ceil(leaseMs))]);
    if (reply !== "OK") return undefined;
    return {
      extend: async (ms) => Number(await this.#send(["EVAL", extendScript, "1", name, owner, String(Math.ceil(ms))])) === 1,
      release: async () => void (await this.#send(["EVAL", releaseScript, "1", name, owner])),
    };
  }

  async #send(args: string[]): Promise<unknown> {
    const client = typeof this.#client === "function" ? await this.#client() : this.#client;
    if ("sendCommand" in client) return client.sendCommand(args);
    const [command, ...rest] = args as [string, ...string[]];
    return client.call(command, ...rest);
  }
}
