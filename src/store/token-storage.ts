/**
 * Where tokens, client registrations and discovery results are kept. A `Keyv` instance (keyv 5 or 6)
 * fits, and so does any object with these three async methods. `ttl` is in milliseconds.
 */
export interface TokenStorage {
  /** The value stored under `key`; `undefined` (or `null`) when there is none. A failure must reject, not resolve `undefined`. */
  get(key: string): Promise<unknown>;
  /** Stores `value` (a JSON-serialisable object) under `key`, for `ttl` milliseconds when given, else without expiry. */
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  /** Removes `key`, if present. */
  delete(key: string): Promise<unknown>;
}
