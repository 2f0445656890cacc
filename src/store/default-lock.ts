import { FileLock } from "./file-lock.js";
import type { OAuthLogger } from "../shared/oauth-logger.js";
import type { TokenStorage } from "./token-storage.js";
import { RedisLock, type RedisCommandClient } from "./redis-lock.js";
import { adapterOf, storageLayers } from "./storage-layers.js";
import { MemoryLock, type TokenLock } from "./token-lock.js";

interface KeyvLike {
  namespace?: unknown;
}
interface KeyvRedisLike {
  getClient(): Promise<RedisCommandClient>;
  client: { sendCommand?: unknown };
  isCluster?: () => boolean;
  namespace?: unknown;
}
interface KeyvSqliteLike {
  opts: { dialect?: unknown; db?: unknown };
}

/** Stores already warned about: several `OAuth` instances on one store warn once. */
const warned = new WeakSet<object>();

/**
 * The lock that fits the store: Redis for a `@keyv/redis` Keyv (through its own client, keys under its
 * namespace), lock files beside a `@keyv/sqlite` database file, else this process only. Wrappers that
 * expose `inner` (like `FernetEncryptionWrapper`) are looked through. A store that other processes may
 * share (anything but an in-memory one) left with the in-process lock gets one warning.
 */
export function defaultLock(storage: TokenStorage, logger?: OAuthLogger): TokenLock {
  const outer = storageLayers(storage).at(-1) as KeyvLike;
  const adapter = adapterOf(outer) as Partial<KeyvRedisLike & KeyvSqliteLike>;

  if (typeof adapter.getClient === "function" && typeof adapter.client?.sendCommand === "function" && !adapter.isCluster?.()) {
    const namespace = typeof outer.namespace === "string" ? outer.namespace : typeof adapter.namespace === "string" ? adapter.namespace : "";
    const redis = adapter as KeyvRedisLike;
    return new RedisLock(() => redis.getClient(), { prefix: namespace ? `${namespace}:` : "" });
  }
  const db = adapter.opts?.dialect === "sqlite" ? adapter.opts.db : undefined;
  if (typeof db === "string" && db !== "" && !db.includes(":memory:")) return new FileLock(`${db}.locks`);
  // Keyv 5 keeps a Map as its adapter; Keyv 6 wraps it in an adapter whose `store` is the Map.
  const inMemory = adapter instanceof Map || (adapter as { store?: unknown }).store instanceof Map || (typeof db === "string" && db.includes(":memory:"));
  if (logger && !inMemory && !warned.has(storage)) {
    warned.add(storage);
    logger.warn(
      "mcp-oauth: the token lock defaults to MemoryLock (this process only) for this store; if other processes share it, pass `lock` (RedisLock, FileLock or your own TokenLock), or they may spend one refresh token twice",
    );
  }
  return new MemoryLock();
}
