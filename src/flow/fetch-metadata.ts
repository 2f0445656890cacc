import type { FetchLike, HttpRules } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import type { OAuthEvent } from "../shared/events.js";
import { toOAuthError } from "../shared/map-error.js";

export interface MetadataContext {
  /** The back-channel fetch: no redirects, deadline, size limit. */
  fetch: FetchLike;
  onEvent: (event: OAuthEvent) => void;
  /**
   * Whether the authorization code flow will run: it needs an authorization endpoint and PKCE S256.
   * Grants without a browser only need a token endpoint. Default true.
   */
  authorizationCode?: boolean;
  /**
   * The `http:` rules every discovered URL is checked against before use (the back channel checks each
   * request again). The session always passes them; without, `http:` is allowed on any loopback host.
   */
  rules?: HttpRules;
}

export type MetadataResult = { found: true; response: Response; json: Record<string, unknown> } | { found: false; status: number };

/**
 * GETs one well-known document. A 4xx means "not here, try the next location"; anything else that is
 * not a 200 JSON object stops discovery, because trying further would hide a broken or hostile server.
 */
export async function fetchMetadata(url: URL, ctx: MetadataContext): Promise<MetadataResult> {
  ctx.onEvent({ type: "discovery_request", url: url.href });
  let response: Response;
  try {
    response = await ctx.fetch(url, { headers: { accept: "application/json" } });
  } catch (error) {
    throw toOAuthError(error, "discovery_failed", `fetching ${url.href}`);
  }
  if (response.status >= 400 && response.status < 500) return { found: false, status: response.status };
  if (response.status !== 200) {
    throw new OAuthError("discovery_failed", `fetching ${url.href}: unexpected HTTP ${response.status}`, {
      status: response.status,
      transient: response.status >= 500,
    });
  }
  let json: unknown;
  try {
    json = await response.clone().json();
  } catch (cause) {
    throw new OAuthError("discovery_failed", `fetching ${url.href}: the body is not JSON`, { cause });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new OAuthError("discovery_failed", `fetching ${url.href}: the body is not a JSON object`);
  }
  return { found: true, response, json: json as Record<string, unknown> };
}

/** `https://h/.well-known/<suffix><path>`: RFC 8414 §3.1 / RFC 9728 §3.1 path insertion (no trailing slash). */
export function wellKnownUrl(base: URL, suffix: string): URL {
  const path = base.pathname.replace(/\/+$/, "");
  return new URL(`/.well-known/${suffix}${path}`, base.origin);
}
