import type { TokenStorage } from "./token-storage.js";
import { adapterOf, storageLayers } from "./storage-layers.js";

/**
 * Settles with `operation`, or rejects after `ms`: a store or lock whose server went away (Redis queues
 * commands while it reconnects) must not hang the request that needs it. A late rejection is absorbed.
 */
export function withDeadline<T>(operation: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  operation.catch(() => undefined);
  return Promise.race([operation, deadline]).finally(() => clearTimeout(timer));
}

interface ErrorEmitter {
  on(event: "error", listener: (error: unknown) => void): unknown;
  off(event: "error", listener: (error: unknown) => void): unknown;
  throwOnErrors?: boolean;
}

/**
 * The store as the token store uses it: every call has a deadline, and a failure is an exception, so
 * an outage is never mistaken for "no tokens" (which would open a browser) and a lost write is never
 * mistaken for a saved one. In every layer (a wrapper's `inner` too): Keyv 5 reports an adapter failure
 * as a miss unless `throwOnErrors` is on, so it is turned on (documented on `tokenStorage`); adapters that
 * swallow errors but emit them (`@keyv/redis`), and Keyv 6, are heard through `error` events during each
 * call; `set` answering `false` (Keyv's "not written") is a failure.
 */
export function guardStorage(storage: TokenStorage, timeoutMs: number): TokenStorage {
  const emitters = prepareLayers(storage);
  const call = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    if (emitters.length === 0) return withDeadline(operation(), timeoutMs, what);
    let failure: { error: unknown } | undefined;
    const listener = (error: unknown) => void (failure ??= { error });
    for (const emitter of emitters) emitter.on("error", listener);
    try {
      const result = await withDeadline(operation(), timeoutMs, what);
      if (failure) throw failure.error instanceof Error ? failure.error : new Error(String(failure.error));
      return result;
    } finally {
      for (const emitter of emitters) emitter.off("error", listener);
    }
  };
  return {
    get: (key) => call("the token store (get)", () => storage.get(key)),
    set: (key, value, ttl) =>
      call("the token store (set)", async () => {
        if ((await storage.set(key, value, ttl)) === false) throw new Error("the token store did not write the value");
        return true;
      }),
    delete: (key) => call("the token store (delete)", () => storage.delete(key)),
  };
}

/** Makes every layer fail loudly and at once; returns the layers that emit `error`. */
function prepareLayers(storage: TokenStorage): ErrorEmitter[] {
  const emitters: ErrorEmitter[] = [];
  for (const layer of storageLayers(storage)) {
    const candidate = layer as Partial<ErrorEmitter>;
    if (candidate.throwOnErrors === false) candidate.throwOnErrors = true;
    if (typeof candidate.on === "function" && typeof candidate.off === "function") emitters.push(candidate as ErrorEmitter);
    disableOfflineQueue(adapterOf(layer));
  }
  return emitters;
}

interface NodeRedisAdapter {
  client: { options?: { disableOfflineQueue?: boolean } };
  isCluster(): boolean;
}

/**
 * node-redis queues the commands it is given while disconnected and sends them on reconnection: a
 * write or delete that already failed here (deadline passed, error reported) would land later, over
 * what another process stored meanwhile. So the `@keyv/redis` client of the store fails commands at
 * once while it is offline (`disableOfflineQueue`, as `@keyv/redis`'s own non-blocking mode sets it).
 */
function disableOfflineQueue(adapter: object): void {
  const redis = adapter as Partial<NodeRedisAdapter>;
  const options = typeof redis.isCluster === "function" && !redis.isCluster() ? redis.client?.options : undefined;
  if (options && typeof options === "object") options.disableOfflineQueue = true;
}
