import { lookup as dnsLookup } from "node:dns";
import type { LookupFunction } from "node:net";
import { z } from "zod";
import { isLoopbackHost } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import { defaultRateLimits, MemoryRateLimiter, type EndpointLimits, type LimitedEndpoint, type RateLimiter, type RateLimitOptions } from "./rate-limit.js";
import type { RegisteredClient } from "./types.js";

/** Dynamic client registration (RFC 7591) at `/register`. */
export interface ClientRegistrationOptions {
  /** Serve `/register`. Default `false` (as FastMCP): clients must then be known to `getClient`. */
  enabled?: boolean;
  /** Scopes a client may register and request. Default: `requiredScopes`. Also advertised as `scopes_supported`. */
  validScopes?: string[];
  /** Scopes a client gets when it registers without `scope`; within `validScopes`. Default: `validScopes`' value, else none. */
  defaultScopes?: string[];
  /** Lifetime of issued client secrets, in seconds. Default: secrets do not expire. */
  clientSecretExpirySeconds?: number;
  /**
   * Policy hook, called with the validated metadata before a client is stored: rate limits, an initial
   * access token, an allow-list. Return `false` to refuse (403 `access_denied`), or throw an `OAuthServerError`.
   */
  allow?: (metadata: Omit<RegisteredClient, "client_id" | "client_id_issued_at">, request: Request) => boolean | Promise<boolean>;
}

/** Token revocation (RFC 7009) at `/revoke`. */
export interface RevocationOptions {
  /** Serve `/revoke`. Default `false` (as FastMCP). */
  enabled?: boolean;
}

/**
 * Client ID Metadata Documents (MCP 2025-11-25, draft-ietf-oauth-client-id-metadata-document): a client
 * whose `client_id` is an `https:` URL is described by the JSON document served at that URL, fetched when
 * the client first shows up instead of being registered.
 */
export interface ClientMetadataDocumentOptions {
  /**
   * Accept `https:` URL client ids and advertise `client_id_metadata_document_supported`. Default `false`:
   * turning it on lets anyone make this server fetch a URL of their choice (within the rules below).
   */
  enabled?: boolean;
  /** Largest document accepted, in bytes. Default 5120. */
  maxBytes?: number;
  /** Time allowed for the whole fetch (connection, headers and body), in milliseconds. Default 5000. */
  timeoutMs?: number;
  /**
   * How long a fetched document is used, in seconds: its `Cache-Control: max-age`, kept within these
   * bounds (`no-store`, `no-cache` or no max-age: the minimum). Default 60 and 86400.
   */
  cacheMinSeconds?: number;
  /** Upper bound of the cache lifetime, in seconds; see `cacheMinSeconds`. Default 86400. */
  cacheMaxSeconds?: number;
  /** Documents kept at most; the least recently used goes first. Default 1000. */
  cacheEntries?: number;
  /** Policy before any fetch, e.g. an allow-list of hosts. `false` refuses the client (`invalid_client`). */
  allowFetch?: (url: URL) => boolean | Promise<boolean>;
  /** Policy on the validated client, before it is used. `false` refuses it (`invalid_client`). */
  allowClient?: (client: RegisteredClient) => boolean | Promise<boolean>;
  /**
   * Development and tests only: documents on loopback, private and link-local addresses. Without it a
   * document host must resolve to public addresses only, checked on the address the connection uses.
   */
  allowPrivateNetworks?: boolean;
  /** Certificate authorities (PEM) trusted for document hosts instead of Node's bundle: a private PKI, or a test CA. */
  ca?: string | string[];
  /** Resolves document hosts, as `dns.lookup` does. Default: `dns.lookup`. Tests map names with it. */
  lookup?: LookupFunction;
}

/**
 * {@link ClientMetadataDocumentOptions} with every default filled in and the cache bounds in
 * milliseconds: `clientMetadataDocuments` of {@link ResolvedProviderOptions} when documents are enabled.
 */
export interface ResolvedClientMetadataDocuments {
  /** Largest document accepted, in bytes. */
  maxBytes: number;
  /** Time allowed for the whole fetch, in milliseconds. */
  timeoutMs: number;
  /** Shortest time a fetched document is used, in milliseconds. */
  cacheMinMs: number;
  /** Longest time a fetched document is used, in milliseconds. */
  cacheMaxMs: number;
  /** Documents kept at most. */
  cacheEntries: number;
  /** Policy before any fetch, as given. */
  allowFetch: ClientMetadataDocumentOptions["allowFetch"];
  /** Policy on the validated client, as given. */
  allowClient: ClientMetadataDocumentOptions["allowClient"];
  /** Whether documents may be on loopback, private and link-local addresses. */
  allowPrivateNetworks: boolean;
  /** Certificate authorities trusted for document hosts instead of Node's bundle, as given. */
  ca: string | string[] | undefined;
  /** Resolves document hosts. */
  lookup: LookupFunction;
}

function resolveClientMetadataDocuments(options: ClientMetadataDocumentOptions | undefined): ResolvedClientMetadataDocuments | undefined {
  if (!options?.enabled) return undefined;
  return {
    maxBytes: options.maxBytes ?? 5120,
    timeoutMs: options.timeoutMs ?? 5000,
    cacheMinMs: (options.cacheMinSeconds ?? 60) * 1000,
    cacheMaxMs: (options.cacheMaxSeconds ?? 86_400) * 1000,
    cacheEntries: options.cacheEntries ?? 1000,
    allowFetch: options.allowFetch,
    allowClient: options.allowClient,
    allowPrivateNetworks: options.allowPrivateNetworks ?? false,
    ca: options.ca,
    lookup: options.lookup ?? (dnsLookup as LookupFunction),
  };
}

/** Options of an `OAuthProvider`. Only `baseUrl` is required. */
export interface OAuthProviderOptions {
  /** Where the authorization server endpoints are served: `<baseUrl>/authorize`, `/token`, `/register`, `/revoke`. `https:`, or `http:` on a loopback host. */
  baseUrl: string | URL;
  /** The issuer identifier (RFC 8414), served in metadata and in `iss`. Default: `baseUrl`. Normalised as a URL; a trailing slash is dropped. */
  issuerUrl?: string | URL;
  /** Base URL of the MCP server (the protected resource). Default: `baseUrl`. */
  resourceBaseUrl?: string | URL;
  /** Path of the MCP endpoint under `resourceBaseUrl`; the resource is `resourceBaseUrl + mcpPath`. Default `"/mcp"`. */
  mcpPath?: string;
  /** Human-readable documentation, advertised as `service_documentation` and `resource_documentation`. */
  serviceDocumentationUrl?: string | URL;
  /** Dynamic client registration (RFC 7591) at `/register`. Off by default. */
  clientRegistration?: ClientRegistrationOptions;
  /** Client ID Metadata Documents: `https:` URL client ids, fetched instead of registered. Off by default. */
  clientMetadataDocuments?: ClientMetadataDocumentOptions;
  /** Token revocation (RFC 7009) at `/revoke`. Off by default. */
  revocation?: RevocationOptions;
  /** Scopes every MCP request must carry (else 403 `insufficient_scope`); also named in the 401 challenge. Within `clientRegistration.validScopes` when set. Default none. */
  requiredScopes?: string[];
  /** Access token lifetime in seconds. Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Refresh token lifetime in seconds (each rotation starts a new one, up to `grantLifetimeSeconds`). Default 2592000 (30 days). */
  refreshTokenTtlSeconds?: number;
  /**
   * Absolute lifetime of an authorization in seconds, counted from the user's approval: however often
   * its refresh tokens rotate, no token of the grant outlives it, and the user must authorize again.
   * Default 2592000 (30 days), or `refreshTokenTtlSeconds` if that is longer.
   */
  grantLifetimeSeconds?: number;
  /** Authorization code lifetime in seconds, at most 600. Default 300. */
  authorizationCodeTtlSeconds?: number;
  /**
   * How long after a rotation the immediately previous refresh token still answers with the same
   * successor, so a client whose response was lost can retry. Older tokens, or this one later, revoke the
   * whole grant. 0 disables. Default 30, at most 300.
   */
  refreshTokenGraceSeconds?: number;
  /**
   * Rate limits of `/register`, `/authorize`, `/token` and `/revoke`, per client address and overall; a
   * request over either budget is answered 429 `temporarily_unavailable` with `Retry-After` (an HTML page
   * at `/authorize`). On by default with `defaultRateLimits`; give an endpoint's budgets to change them
   * (what you leave out keeps its default), `false` for an endpoint or for all of them to turn limiting
   * off. The client address is what the adapters pass to `handle` (see `trustedProxies`); a request
   * without one counts against the overall budget only. Counters live in this process unless `limiter`
   * puts them in a store the replicas share. A limiter that fails lets the request through (and reports
   * to `onError`): limits protect availability, so an outage of their store must not take it away.
   */
  rateLimits?: RateLimitOptions | false;
  /** Clock in milliseconds since the epoch. Default `Date.now`. Tests inject one. */
  now?: () => number;
  /**
   * Receives errors a subclass method threw that are not `OAuthServerError`s; the client only sees a
   * generic `server_error`. Default: `console.error`.
   */
  onError?: (error: unknown) => void;
}

/**
 * {@link OAuthProviderOptions} checked, with every default filled in, the URLs worked out and lifetimes
 * in milliseconds: what a subclass of `OAuthProvider` reads as `this.options`.
 */
export interface ResolvedProviderOptions {
  /** Where the authorization server endpoints are served. */
  baseUrl: URL;
  /** `baseUrl`'s path without a trailing slash ("" at the root): the prefix of every endpoint path. */
  basePath: string;
  /** The issuer identifier, without a trailing slash. */
  issuer: string;
  /** The MCP endpoint's URL (`resourceBaseUrl` + `mcpPath`): the resource tokens are issued for. */
  resource: string;
  /** Where the protected resource metadata (RFC 9728) is served, as the 401 challenge names it. */
  resourceMetadataUrl: string;
  /** `serviceDocumentationUrl`, as a string. */
  serviceDocumentationUrl: string | undefined;
  /** Dynamic client registration, with the defaults of {@link ClientRegistrationOptions} applied. */
  registration: {
    enabled: boolean;
    validScopes: string[];
    defaultScopes: string[];
    clientSecretExpirySeconds: number | undefined;
    /** The registration policy hook, as given. */
    allow: ClientRegistrationOptions["allow"];
  };
  /** The limiter and each limited endpoint's budgets (defaults merged in). Undefined when rate limiting is off. */
  rateLimits: { limiter: RateLimiter; endpoints: Partial<Record<LimitedEndpoint, EndpointLimits>> } | undefined;
  /** Whether `/revoke` is served. */
  revocationEnabled: boolean;
  /** Undefined when metadata documents are off. */
  clientMetadataDocuments: ResolvedClientMetadataDocuments | undefined;
  /** Scopes every MCP request must carry. */
  requiredScopes: string[];
  /** What `scopes_supported` advertises, and what an authorization request may ask for. */
  scopesSupported: string[];
  /** Access token lifetime, in milliseconds. */
  accessTokenTtlMs: number;
  /** Refresh token lifetime, in milliseconds. */
  refreshTokenTtlMs: number;
  /** Absolute lifetime of an authorization from the user's approval, in milliseconds. */
  grantLifetimeMs: number;
  /** Authorization code lifetime, in milliseconds. */
  codeTtlMs: number;
  /** Grace window of the previous refresh token after a rotation, in milliseconds; 0 when disabled. */
  refreshGraceMs: number;
  /** Clock in milliseconds since the epoch. */
  now: () => number;
  /** Receives errors the client only sees as `server_error`, and failures of the rate limiter. */
  onError: (error: unknown) => void;
}

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "not a valid scope token");
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", "expected a function");
const secureUrl = z.union([z.string(), z.instanceof(URL)]).refine((value) => {
  const url = URL.canParse(String(value)) ? new URL(String(value)) : undefined;
  // `url.search` and `url.hash` are empty for a bare "?" or "#", which RFC 8414 §2 forbids in an issuer too.
  if (!url || /[?#]/.test(String(value)) || url.username || url.password) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}, "expected an https: URL (http: only on a loopback host) without query, fragment or credentials");

const rateLimitRule = z.object({ requests: z.number().int().positive(), windowSeconds: z.number().int().positive() }).strict();
const endpointLimits = z.union([z.literal(false), z.object({ perClient: rateLimitRule.optional(), overall: rateLimitRule.optional() }).strict()]);

export const providerOptionsShape = {
  baseUrl: secureUrl,
  issuerUrl: secureUrl.optional(),
  resourceBaseUrl: secureUrl.optional(),
  mcpPath: z.string().regex(/^\/[^?#\s]*$/, "expected a path starting with /").optional(),
  serviceDocumentationUrl: z.union([z.url(), z.instanceof(URL)]).optional(),
  clientRegistration: z
    .object({
      enabled: z.boolean().optional(),
      validScopes: z.array(scopeToken).optional(),
      defaultScopes: z.array(scopeToken).optional(),
      clientSecretExpirySeconds: z.number().int().positive().optional(),
      allow: fn.optional(),
    })
    .strict()
    .optional(),
  clientMetadataDocuments: z
    .object({
      enabled: z.boolean().optional(),
      maxBytes: z.number().int().positive().max(1_048_576).optional(),
      timeoutMs: z.number().int().positive().max(60_000).optional(),
      cacheMinSeconds: z.number().int().min(0).optional(),
      cacheMaxSeconds: z.number().int().min(0).optional(),
      cacheEntries: z.number().int().positive().optional(),
      allowFetch: fn.optional(),
      allowClient: fn.optional(),
      allowPrivateNetworks: z.boolean().optional(),
      ca: z.union([z.string(), z.array(z.string())]).optional(),
      lookup: fn.optional(),
    })
    .strict()
    .refine((value) => (value.cacheMinSeconds ?? 60) <= (value.cacheMaxSeconds ?? 86_400), "cacheMinSeconds is above cacheMaxSeconds")
    .optional(),
  revocation: z.object({ enabled: z.boolean().optional() }).strict().optional(),
  requiredScopes: z.array(scopeToken).optional(),
  accessTokenTtlSeconds: z.number().int().positive().optional(),
  refreshTokenTtlSeconds: z.number().int().positive().optional(),
  grantLifetimeSeconds: z.number().int().positive().optional(),
  authorizationCodeTtlSeconds: z.number().int().positive().max(600).optional(),
  refreshTokenGraceSeconds: z.number().int().min(0).max(300).optional(),
  rateLimits: z
    .union([
      z.literal(false),
      z
        .object({
          limiter: z.custom<RateLimiter>((value) => typeof (value as RateLimiter | undefined)?.hit === "function", "expected an object with a hit(key, rule) method").optional(),
          register: endpointLimits.optional(),
          authorize: endpointLimits.optional(),
          token: endpointLimits.optional(),
          revoke: endpointLimits.optional(),
        })
        .strict(),
    ])
    .optional(),
  now: fn.optional(),
  onError: fn.optional(),
} satisfies Record<keyof OAuthProviderOptions, z.ZodType>;

/**
 * Validates the options (the base ones plus a subclass's `extraShape`), throwing `OAuthError`
 * `invalid_options` naming the first bad option, and works out the URLs everything is served at.
 */
export function resolveProviderOptions(options: OAuthProviderOptions, extraShape: z.ZodRawShape = {}): ResolvedProviderOptions {
  const parsed = z
    .object({ ...providerOptionsShape, ...extraShape })
    .strict()
    .superRefine((value, context) => {
      const registration = value.clientRegistration;
      const valid = registration?.validScopes ?? value.requiredScopes ?? [];
      // A required scope no client may request, or a default one no client may hold, can never be met.
      const checks: [string[] | undefined, string[]][] = [
        [registration?.defaultScopes, ["clientRegistration", "defaultScopes"]],
        [registration?.validScopes && value.requiredScopes, ["requiredScopes"]],
      ];
      for (const [scopes, path] of checks) {
        const outside = (scopes ?? []).filter((s) => !valid.includes(s));
        if (outside.length > 0) context.addIssue({ code: "custom", path, message: `not in validScopes: ${outside.join(" ")}` });
      }
    })
    .safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join(".") || (issue?.code === "unrecognized_keys" ? issue.keys.join(", ") : "options");
    throw new OAuthError("invalid_options", `invalid option \`${name}\`: ${issue?.message ?? "invalid"}`, { cause: parsed.error });
  }

  const baseUrl = new URL(String(options.baseUrl));
  const basePath = baseUrl.pathname.replace(/\/+$/, "");
  // The normalised URL (host case, default port, dot segments), so the issuer is served in one spelling only.
  const issuer = new URL(String(options.issuerUrl ?? options.baseUrl)).href.replace(/\/+$/, "");
  const resourceBase = new URL(String(options.resourceBaseUrl ?? options.baseUrl));
  const resourceUrl = new URL(resourceBase.pathname.replace(/\/+$/, "") + (options.mcpPath ?? "/mcp"), resourceBase);
  const resource = resourceUrl.href;
  const registration = options.clientRegistration ?? {};
  const validScopes = registration.validScopes ?? options.requiredScopes ?? [];
  return {
    baseUrl,
    basePath,
    issuer,
    resource,
    resourceMetadataUrl: new URL(`/.well-known/oauth-protected-resource${resourceUrl.pathname === "/" ? "" : resourceUrl.pathname}`, resourceUrl).href,
    serviceDocumentationUrl: options.serviceDocumentationUrl === undefined ? undefined : String(options.serviceDocumentationUrl),
    registration: {
      enabled: registration.enabled ?? false,
      validScopes,
      defaultScopes: registration.defaultScopes ?? validScopes,
      clientSecretExpirySeconds: registration.clientSecretExpirySeconds,
      allow: registration.allow,
    },
    revocationEnabled: options.revocation?.enabled ?? false,
    clientMetadataDocuments: resolveClientMetadataDocuments(options.clientMetadataDocuments),
    requiredScopes: options.requiredScopes ?? [],
    scopesSupported: validScopes,
    accessTokenTtlMs: (options.accessTokenTtlSeconds ?? 3600) * 1000,
    refreshTokenTtlMs: (options.refreshTokenTtlSeconds ?? 2_592_000) * 1000,
    grantLifetimeMs: (options.grantLifetimeSeconds ?? Math.max(2_592_000, options.refreshTokenTtlSeconds ?? 0)) * 1000,
    codeTtlMs: (options.authorizationCodeTtlSeconds ?? 300) * 1000,
    refreshGraceMs: (options.refreshTokenGraceSeconds ?? 30) * 1000,
    now: options.now ?? Date.now,
    onError: options.onError ?? ((error) => console.error("mcp-oauth server: a provider method failed", error)),
    rateLimits: resolveRateLimits(options.rateLimits, options.now ?? Date.now),
  };
}

function resolveRateLimits(options: RateLimitOptions | false | undefined, now: () => number): ResolvedProviderOptions["rateLimits"] {
  if (options === false) return undefined;
  const endpoints: Partial<Record<LimitedEndpoint, EndpointLimits>> = {};
  for (const endpoint of Object.keys(defaultRateLimits) as LimitedEndpoint[]) {
    const given = options?.[endpoint];
    if (given !== false) endpoints[endpoint] = { ...defaultRateLimits[endpoint], ...given };
  }
  return { limiter: options?.limiter ?? new MemoryRateLimiter(now), endpoints };
}
