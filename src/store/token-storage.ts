/**
 * Where tokens, client registrations and discovery results are kept. A `Keyv` instance (keyv 5 or 6)
 * fits, and so does any object with these three async methods. `ttl` is in milliseconds.
 */
export interface TokenStorage {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}
