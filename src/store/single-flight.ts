import type { TokenRecord } from "./token-store.js";

/** Flights a caller waits for, one after another, before it starts its own. */
const maxJoins = 8;

export type FlightKind = "refresh" | "login";

interface Flight {
  kind: FlightKind;
  /** The access token it replaces. */
  seen: string | undefined;
  promise: Promise<TokenRecord | undefined>;
}

/**
 * One refresh or login at a time in a session (single flight): concurrent callers join the one in
 * progress instead of spending a rotating refresh token twice or opening two browsers.
 */
export class SingleFlight {
  #flight: Flight | undefined;

  /** The flight in progress, if any. */
  get current(): Readonly<Flight> | undefined {
    return this.#flight;
  }

  /**
   * Runs `task` unless a flight is in progress, in which case the caller waits for that one. A caller
   * whose token was replaced while it waited takes the new one (also `replaced()`, when no flight is left
   * to wait for); one whose token the same kind of flight just failed to replace (its refresh token
   * refused) gets that answer rather than trying again. A failed flight fails its joiners too.
   */
  async run(kind: FlightKind, seen: TokenRecord | undefined, task: () => Promise<TokenRecord | undefined>, replaced: (seen: string | undefined) => TokenRecord | undefined): Promise<TokenRecord | undefined> {
    const seenToken = seen?.access_token;
    for (let joined = 0; this.#flight && joined < maxJoins; joined += 1) {
      const flight = this.#flight;
      const result = await flight.promise;
      if (result && result.access_token !== seenToken) return result;
      if (flight.kind === kind && flight.seen === seenToken) return result;
    }
    const newer = replaced(seenToken);
    if (newer) return newer;
    const promise = task().finally(() => {
      if (this.#flight?.promise === promise) this.#flight = undefined;
    });
    this.#flight = { kind, seen: seenToken, promise };
    return promise;
  }
}
