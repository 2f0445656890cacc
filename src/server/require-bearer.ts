import { canonicalResource } from "./handle-authorize.js";
import type { ResolvedProviderOptions } from "./options.js";
import type { AccessToken, AuthInfo } from "./types.js";

/** The guard's verdict: the caller, or the response to send instead of handling the request. */
export type BearerCheck = { auth: AuthInfo; response?: undefined } | { auth?: undefined; response: Response };

/**
 * Options of the MCP endpoint guard (`provider.authenticate`, `provider.checkAuthorization`,
 * `nodeRequireBearer`), for an endpoint that needs other scopes than the provider's default.
 */
export interface BearerOptions {
  /** Scopes this endpoint needs. Default: the provider's `requiredScopes`. */
  requiredScopes?: string[];
}

/**
 * The MCP endpoint's guard (RFC 6750, RFC 9728 §5.1, MCP 2025-11-25 "Authorization"):
 * no token → 401 with `resource_metadata` and `scope` in the challenge, so clients can discover how to
 * authorize; an unknown, expired or revoked token, or one issued for another resource → 401
 * `invalid_token`; a token without the required scopes → 403 `insufficient_scope`. The token is taken
 * from the `Authorization` header only, never from the query string.
 */
export async function checkBearer(
  authorization: string | null | undefined,
  o: ResolvedProviderOptions,
  verifyToken: (token: string) => Promise<AccessToken | undefined>,
  options: BearerOptions = {},
): Promise<BearerCheck> {
  const required = options.requiredScopes ?? o.requiredScopes;
  const challenge = (fields: Record<string, string>) => {
    const params = { ...fields, resource_metadata: o.resourceMetadataUrl, ...(required.length > 0 ? { scope: required.join(" ") } : {}) };
    return `Bearer ${Object.entries(params)
      .map(([key, value]) => `${key}="${value.replace(/["\\]/g, "")}"`)
      .join(", ")}`;
  };
  const reject = (status: number, error: string | undefined, description: string): BearerCheck => ({
    response: new Response(error ? JSON.stringify({ error, error_description: description }) : null, {
      status,
      headers: {
        "www-authenticate": challenge(error ? { error, error_description: description } : {}),
        ...(error ? { "content-type": "application/json" } : {}),
        "cache-control": "no-store",
        "access-control-expose-headers": "WWW-Authenticate",
      },
    }),
  });

  const match = authorization?.match(/^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i);
  // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
  if (!authorization || !/^Bearer\b/i.test(authorization)) return reject(401, undefined, "");
  if (!match?.[1]) return reject(401, "invalid_token", "malformed Bearer credentials");
  const token = match[1];

  let record: AccessToken | undefined;
  try {
    record = await verifyToken(token);
  } catch (error) {
    // A store failure is not a bad token: a 401 would make every client throw its tokens away and start a
    // new authorization. 503 with Retry-After says "the same request, later" to clients and proxies alike.
    o.onError(error);
    const headers = { "content-type": "application/json", "cache-control": "no-store", "retry-after": "5" };
    return { response: new Response(JSON.stringify({ error: "temporarily_unavailable", error_description: "the token could not be checked; try again shortly" }), { status: 503, headers }) };
  }
  const stale = "the access token is invalid, expired or revoked; authorize again";
  if (!record || record.expiresAt <= o.now()) return reject(401, "invalid_token", stale);
  // RFC 8707 / MCP: a token issued for another resource must not be accepted here (no token passthrough).
  if (canonicalResource(record.resource) !== canonicalResource(o.resource)) {
    return reject(401, "invalid_token", "the access token was issued for another resource");
  }
  const missing = required.filter((s) => !record.scopes.includes(s));
  if (missing.length > 0) return reject(403, "insufficient_scope", `this endpoint needs the scope ${required.join(" ")}`);

  return {
    auth: {
      token,
      clientId: record.clientId,
      scopes: record.scopes,
      expiresAt: Math.floor(record.expiresAt / 1000),
      resource: new URL(record.resource),
      extra: { subject: record.subject, grantId: record.grantId, ...(record.claims ? { claims: record.claims } : {}) },
    },
  };
}
