import { FileLock } from "./file-lock.js";
import type { TokenStorage } from "./options.js";
import { RedisLock, type RedisCommandClient } from "./redis-lock.js";
import { MemoryLock, type TokenLock } from "./token-lock.js";

interface KeyvLike {
  store?: unknown;
  namespace?: unknown;
  inner?: unknown;
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

/**
 * The lock that fits the store: Redis for a `@keyv/redis` Keyv (through its own client, keys under its
 * namespace), lock files beside a `@keyv/sqlite` database file, else this process only. Wrappers that
 * expose `inner` (like `FernetEncryptionWrapper`) are looked through.
 */
export function defaultLock(storage: TokenStorage): TokenLock {
  let outer = storage as KeyvLike;
  for (let depth = 0; depth < 5 && isObject(outer.inner); depth += 1) outer = outer.inner as KeyvLike;
  const adapter = (isObject(outer.store) ? outer.store : outer) as Partial<KeyvRedisLike & KeyvSqliteLike>;

  if (typeof adapter.getClient === "function" && typeof adapter.client?.sendCommand === "function" && !adapter.isCluster?.()) {
    const namespace = typeof outer.namespace === "string" ? outer.namespace : typeof adapter.namespace === "string" ? adapter.namespace : "";
    const redis = adapter as KeyvRedisLike;
    return new RedisLock(() => redis.getClient(), { prefix: namespace ? `${namespace}:` : "" });
  }
  const db = adapter.opts?.dialect === "sqlite" ? adapter.opts.db : undefined;
  if (typeof db === "string" && db !== "" && !db.includes(":memory:")) return new FileLock(`${db}.locks`);
  return new MemoryLock();
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}
