import type { TokenStorage } from "./options.js";

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
 * an outage is never mistaken for "no tokens" (which would open a browser). Keyv 5 reports an adapter
 * failure as a miss unless `throwOnErrors` is on, so it is turned on (documented on `tokenStorage`);
 * adapters that swallow errors but emit them (`@keyv/redis`), and Keyv 6, are heard through `error`
 * events during each call.
 */
export function guardStorage(storage: TokenStorage, timeoutMs: number): TokenStorage {
  const candidate = storage as Partial<ErrorEmitter>;
  if (candidate.throwOnErrors === false) candidate.throwOnErrors = true;
  const emitter = typeof candidate.on === "function" && typeof candidate.off === "function" ? (storage as TokenStorage & ErrorEmitter) : undefined;
  const call = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    if (!emitter) return withDeadline(operation(), timeoutMs, what);
    let failure: { error: unknown } | undefined;
    const listener = (error: unknown) => void (failure ??= { error });
    emitter.on("error", listener);
    try {
      const result = await withDeadline(operation(), timeoutMs, what);
      if (failure) throw failure.error instanceof Error ? failure.error : new Error(String(failure.error));
      return result;
    } finally {
      emitter.off("error", listener);
    }
  };
  return {
    get: (key) => call("the token store (get)", () => storage.get(key)),
    set: (key, value, ttl) => call("the token store (set)", () => storage.set(key, value, ttl)),
    delete: (key) => call("the token store (delete)", () => storage.delete(key)),
  };
}
