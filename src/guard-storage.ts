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
 * The store as the token store uses it: every call has a deadline, and a failure is an exception.
 * A Keyv created without `throwOnErrors` reports a failed read as a miss and a failed write as done,
 * telling only its `error` listeners: those events are turned back into exceptions here, so a Redis
 * outage is never mistaken for "no tokens" (which would open a browser).
 */
export function guardStorage(storage: TokenStorage, timeoutMs: number): TokenStorage {
  const emitter = isSilentEmitter(storage) ? storage : undefined;
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

function isSilentEmitter(storage: TokenStorage): storage is TokenStorage & ErrorEmitter {
  const candidate = storage as Partial<ErrorEmitter>;
  return candidate.throwOnErrors === false && typeof candidate.on === "function" && typeof candidate.off === "function";
}
