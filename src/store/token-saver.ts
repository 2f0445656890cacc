import type { TokenRecord, TokenStore } from "./token-store.js";

interface Unsaved {
  issuer: string;
  record: TokenRecord;
  /** The access token of the record the store held when the write failed (undefined: none). */
  over: string | undefined;
}

/**
 * Writes token records, and remembers the one whose write failed: the store then still holds the record
 * it replaced, whose refresh token (if rotated) is spent. Under the token lock the remembered record is
 * written again before anything else, and preferred to the store's as long as the store holds what it
 * replaced; once another process has stored something else, the store's is the newer.
 */
export class TokenSaver {
  #unsaved: Unsaved | undefined;

  readonly #store: TokenStore;

  constructor(store: TokenStore) {
    this.#store = store;
  }

  /** Writes `record` (holding the lock); `inStore` is the access token of the record the store holds now. False when the write failed. */
  async save(issuer: string, record: TokenRecord, inStore: string | undefined): Promise<boolean> {
    const saved = await this.#store.setTokens(issuer, record);
    this.#unsaved = saved ? undefined : { issuer, record, over: inStore };
    return saved;
  }

  /** The newer of `stored` (just read from the store) and the unsaved record, without writing (a waiter polling without the lock). */
  newest(issuer: string, stored: TokenRecord | undefined): TokenRecord | undefined {
    return this.#pending(issuer, stored)?.record ?? stored;
  }

  /**
   * Holding the lock: writes the unsaved record again if the store still holds what it replaced.
   * Returns the newest record and the access token of the one the store now holds.
   */
  async catchUp(issuer: string, stored: TokenRecord | undefined): Promise<{ latest: TokenRecord | undefined; inStore: string | undefined }> {
    const pending = this.#pending(issuer, stored);
    if (!pending) return { latest: stored, inStore: stored?.access_token };
    const saved = await this.#store.setTokens(issuer, pending.record);
    if (saved) this.#unsaved = undefined;
    return { latest: pending.record, inStore: saved ? pending.record.access_token : stored?.access_token };
  }

  /** Forgets the unsaved record (cleared, or its refresh token refused). */
  forget(refreshToken?: string): void {
    if (refreshToken === undefined || this.#unsaved?.record.refresh_token === refreshToken) this.#unsaved = undefined;
  }

  /** The unsaved record if it is still newer than the store's; forgets it once it is not. */
  #pending(issuer: string, stored: TokenRecord | undefined): Unsaved | undefined {
    const unsaved = this.#unsaved;
    if (!unsaved || unsaved.issuer !== issuer) return undefined;
    // The write landed after all (late), or another process stored newer tokens since.
    if (stored?.access_token !== unsaved.over) {
      this.#unsaved = undefined;
      return undefined;
    }
    return unsaved;
  }
}
