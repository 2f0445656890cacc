/** Shared by the metadata document tests: a resolver stand-in, and the document a well-behaved client serves. */
import type { LookupFunction } from "node:net";
import { REDIRECT_URI } from "./support.js";

/** A resolver answering `addresses` (default 127.0.0.1) for every name, as `dns.lookup` would. */
export function resolveTo(...addresses: string[]): LookupFunction {
  const list = (addresses.length > 0 ? addresses : ["127.0.0.1"]).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  return ((_hostname: string, options: { all?: boolean }, callback: (error: null, address: unknown, family?: number) => void) => {
    queueMicrotask(() => (options.all ? callback(null, list) : callback(null, list[0]?.address, list[0]?.family)));
  }) as unknown as LookupFunction;
}

/** The document a well-behaved client serves at `url`. */
export function documentFor(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: url, client_name: "Example CIMD client", redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], ...extra };
}
