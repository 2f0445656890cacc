import { z } from "zod";
import type { LookupFunction } from "node:net";
import { defaultBackChannelLimits, type FetchLike } from "./shared/back-channel.js";
import { isLoopbackHostname } from "./shared/classify-address.js";
import { loadSigningKey, signingAlgorithms, type SigningAlgorithm } from "./flow/client-authentication.js";
import { defaultLock } from "./store/default-lock.js";
import { defaultTokenStorage } from "./store/default-token-storage.js";
import { OAuthError } from "./shared/errors.js";
import { resolverSeam, systemLookup } from "./shared/guard-network.js";
import { serverKeyOf } from "./shared/server-key.js";
import type { OAuthEvent } from "./shared/events.js";
import type { IdentityProviderOptions } from "./flow/request-identity-assertion.js";
import type { TokenLock } from "./store/token-lock.js";
import type { OAuthLogger } from "./shared/oauth-logger.js";
import type { Grant, ResolvedOptions } from "./flow/resolved-options.js";
import type { TokenStorage } from "./store/token-storage.js";

/** Options of `new OAuth()`. Only `mcpUrl` is required. */
export interface OAuthOptions {
  /** The MCP server endpoint, e.g. `https://mcp.example.com/mcp`. Discovery and storage keys derive from it. */
  mcpUrl: string | URL;
  /** Scopes to request, as a space-separated string or a list. Added to the scope a server challenges for. Default: none. */
  scopes?: string | readonly string[];
  /** `client_name` sent in dynamic client registration. Default `"FastMCP Client"`. */
  clientName?: string;
  /**
   * Keyv-compatible store for tokens, the client registration and discovery results (keys in docs/storage.md,
   * "Storage keys"). Tokens are written without a TTL, so the store never drops a refresh token with its
   * access token. Wrap it in `FernetEncryptionWrapper` to encrypt values at rest. A Keyv 5 instance gets
   * `throwOnErrors` turned on (in a wrapper's `inner` Keyv too): without it Keyv reports a failed read as
   * a miss, and an outage would look like "no tokens" (a login). A `@keyv/redis` client gets
   * `disableOfflineQueue` turned on: a write that failed during an outage must not be replayed on
   * reconnection over what another process stored meanwhile.
   * Default: an in-memory `Keyv` shared by this process; tokens are then lost on restart and one warning says so.
   */
  tokenStorage?: TokenStorage;
  /**
   * The lock every process sharing `tokenStorage` takes around a refresh (read, refresh, write) and
   * around an interactive login, so a rotating refresh token is spent once and one browser window opens.
   * Default: a `RedisLock` on the store's own client when `tokenStorage` is a `@keyv/redis` Keyv; a
   * `FileLock` beside the database when it is a `@keyv/sqlite` Keyv on a file; else `MemoryLock` (this
   * process only: pass a `RedisLock` or `FileLock` when processes share another store; a store that is
   * not in memory left with `MemoryLock` gets one warning).
   */
  lock?: TokenLock;
  /**
   * Lease of the token lock, renewed every third of it while held: how long a holder that died (or
   * stalled) blocks the others; a lock file is freed at once when its holder's pid is gone. The holder
   * extends the lease just before it sends a refresh token, and aborts the refresh with `lock_lost` if
   * the lease is lost, so the lease must outlast a token request and a store write. Default
   * `requestTimeoutMs + 2 * storageTimeoutMs` (40000).
   */
  lockLeaseMs?: number;
  /**
   * Longest wait for another process's refresh before `lock_timeout`. Waiting for another process's
   * login may last `callbackTimeoutMs` longer. Default 60000.
   */
  lockTimeoutMs?: number;
  /** Deadline of each token store and lock command; a store that does not answer gives `storage_failed`. Default 5000. */
  storageTimeoutMs?: number;
  /** Extra RFC 7591 fields merged into the registration request (and into a pre-registered client's metadata). */
  additionalClientMetadata?: Record<string, unknown>;
  /**
   * Port of the loopback callback server `http://127.0.0.1:<port>/callback`. Default: the port a stored
   * registration used, else one the OS picks. Set it when the redirect URI is pre-registered.
   */
  callbackPort?: number;
  /**
   * The issuer identifier of the authorization server the client belongs with, exactly as its metadata
   * states it (e.g. `https://auth.example.com`). It picks that server from the protected resource
   * metadata's `authorization_servers` (without it the first one listed is used, MCP authorization
   * §2.3.3), and it pins pre-registered credentials (`clientSecret`, `privateKey`) to it: when the MCP
   * server names only other authorization servers, the login stops with `authorization_server_mismatch`
   * before anything is sent there. Without it, the issuer the credentials first obtained tokens from is
   * recorded in the store, and another one is refused the same way.
   */
  authorizationServer?: string;
  /** A pre-registered client id: registration is skipped. */
  clientId?: string;
  /** The pre-registered client's secret, for `client_secret_basic` or `client_secret_post`. */
  clientSecret?: string;
  /**
   * The pre-registered client's private key, for `private_key_jwt` (RFC 7523) instead of a secret: a PEM
   * string (PKCS#8, SEC1 or PKCS#1) or a WebCrypto private key. Assertions carry `iss` = `sub` = `clientId`
   * and `aud` = the authorization server's issuer, and live 60 seconds.
   */
  privateKey?: string | CryptoKey;
  /** JWS algorithm of the assertions. Default: the key's own (ES256/ES384/ES512 by curve, RS256 for RSA, EdDSA). */
  signingAlgorithm?: SigningAlgorithm;
  /** `kid` header of the assertions, when the server holds several of the client's keys. */
  keyId?: string;
  /** How tokens are obtained; see {@link Grant}. Default `"authorization_code"`. */
  grant?: Grant;
  /** The identity provider for `grant: "enterprise_managed"`. */
  identityProvider?: IdentityProviderOptions;
  /** URL of a Client ID Metadata Document, used as `client_id` when the server supports CIMD. Must be `https:` with a path. */
  clientMetadataUrl?: string;
  /**
   * Opens the authorization URL for the user. Default: the system browser through the `open` package
   * (no shell); if that fails the URL is printed to stderr. Tests and headless hosts inject their own.
   */
  openBrowser?: (authorizationUrl: string) => void | Promise<void>;
  /** How long to wait for the browser to come back to the callback server. Default 300000 (5 minutes). */
  callbackTimeoutMs?: number;
  /**
   * The fetch used for every request, to the MCP server and to the authorization server. Default: the
   * global `fetch` for requests to the MCP server, and undici's `fetch` on an agent of this instance for
   * the metadata, registration, token and revocation requests, so that the network rules (docs/security.md,
   * "Network rules") check every address right before connecting. With your own `fetch` those requests
   * go through it instead, and the rules check the URL before it is handed over: its host, or every
   * address the system resolver gives for the name. Your fetch resolves the name again when it connects,
   * so DNS rebinding between the two is then your fetch's concern; and behind an HTTP proxy the rules
   * apply to the target host as this process resolves it, not to the proxy (whose own egress policy
   * applies to what it resolves).
   */
  fetch?: FetchLike;
  /**
   * Development only: allows an `http:` MCP URL on any host, and `http:` URLs it leads to (resource and
   * authorization server metadata, authorization, token, registration and revocation endpoints) on
   * loopback hosts whatever the MCP URL. Tokens, codes and secrets sent to that MCP server then travel
   * in clear text, readable and changeable by anyone on the path. A discovered `http:` URL on a host
   * that is not loopback stays refused even with it (requirement C8). Without it, `http:` is accepted
   * only on loopback hosts (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`): for the MCP URL, and for a
   * discovered URL only when the MCP URL is loopback too; anything else is refused (`invalid_options`
   * for `mcpUrl`, `insecure_endpoint` for a discovered URL). Default false.
   */
  allowInsecureHttp?: boolean;
  /**
   * Lifts the private-network rule (C10, against SSRF): by default no URL the MCP server leads the client
   * to may be on a more private network than the MCP URL itself, in the order public < private (10/8,
   * 172.16/12, 192.168/16, 100.64/10, fc00::/7) < link-local (169.254/16, the cloud metadata address
   * among them, fe80::/10) < loopback (127/8, ::1, 0.0.0.0/8, ::), checked on the resolved addresses
   * before connecting (`private_address`). So a public MCP server cannot send the client to an internal
   * host or a metadata service, and a private one cannot send it to link-local or loopback. The origins
   * of `identityProvider.tokenEndpoint` and `authorizationServer`, named here rather than by the MCP
   * server, are exempt. Set this when a deployment really splits across networks (a public MCP server
   * with an internal authorization server, say), or behind a proxy whose names this machine cannot
   * resolve. Default false.
   */
  allowPrivateNetworks?: boolean;
  /** Aborts every pending authorization, refresh and request of this instance. */
  signal?: AbortSignal;
  /** Called at each pipeline step (discovery, registration, callback, token stored...). Events carry no secrets. */
  onEvent?: (event: OAuthEvent) => void;
  /** Receives warnings (in-memory storage, unreadable stored records, failed store writes). Default `console`. */
  logger?: OAuthLogger;
  /** Deadline of each request to a metadata or authorization server endpoint. Default 30000. */
  requestTimeoutMs?: number;
  /** Largest metadata, registration or token response accepted, in bytes. Default 1048576. */
  maxResponseBytes?: number;
  /** Re-authorizations allowed per request when the server answers 403 `insufficient_scope`. Default 2. */
  maxStepUpAttempts?: number;
  /**
   * Retries of a token or registration request the server answered 429 or 503, each after its
   * `Retry-After` (else 250 ms, 500 ms, 1 s, at most 2 s). No other answer is retried, nor a network
   * error. Waits and retries stay within `requestTimeoutMs` of the first attempt. Default 2.
   */
  maxRetries?: number;
  /**
   * Longest `Retry-After` waited for. A server asking for longer is not waited for: the request fails at
   * once with a transient error (status 429 or 503), and a refresh keeps the stored tokens. Default 10000.
   */
  maxRetryAfterMs?: number;
  /** Clock in milliseconds since the epoch, for token expiry. Default `Date.now`. */
  now?: () => number;
}

const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", "expected a function");
const storage = z.custom<TokenStorage>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    ["get", "set", "delete"].every((method) => typeof (value as Record<string, unknown>)[method] === "function"),
  "expected a Keyv-compatible store with get, set and delete methods",
);
const httpUrl = z.union([z.string(), z.instanceof(URL)]).refine((value) => {
  const url = URL.canParse(String(value)) ? new URL(String(value)) : undefined;
  return url?.protocol === "https:" || url?.protocol === "http:";
}, "expected an absolute http: or https: URL");
/**
 * A Client ID Metadata Document URL, as the CIMD draft requires of a `client_id`: `https:`, a path, no
 * dot segments, no fragment (not even an empty `#`), no credentials. It is sent as is and compared as a
 * string by the server, so it must be exactly its own normal form: `new URL()` would quietly resolve
 * `a/../b` (and `%2e%2e`) or drop a trailing `#`, and the server would then fetch a document other than
 * the one named. Comparing with `href` is what refuses dot segments: every form of them is normalised away.
 */
const cimdUrl = z.string().refine((value) => {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  return url?.protocol === "https:" && url.pathname !== "/" && !value.includes("#") && !url.username && !url.password && url.href === value;
}, "expected an https: URL with a path, in its normal form, with no dot segments, fragment or credentials");

/**
 * One checker per option of {@link OAuthOptions}, and none other: `satisfies` makes a documented option
 * without a check, or a check for an undocumented one, a compile error.
 */
const shape = {
  mcpUrl: httpUrl,
  scopes: z.union([z.string(), z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "not a valid scope token"))]).optional(),
  clientName: z.string().min(1).optional(),
  tokenStorage: storage.optional(),
  lock: z.custom<TokenLock>((value) => typeof (value as TokenLock | null)?.acquire === "function", "expected a lock with an acquire method").optional(),
  lockLeaseMs: z.number().int().min(100).optional(),
  lockTimeoutMs: z.number().int().positive().optional(),
  storageTimeoutMs: z.number().int().positive().optional(),
  additionalClientMetadata: z.record(z.string(), z.unknown()).optional(),
  callbackPort: z.number().int().min(0).max(65535).optional(),
  authorizationServer: z.string().refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), "expected an http(s) issuer identifier").optional(),
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  privateKey: z.union([z.string().min(1), z.custom<CryptoKey>((value) => value instanceof CryptoKey, "expected a PEM string or a CryptoKey")]).optional(),
  signingAlgorithm: z.enum(signingAlgorithms).optional(),
  keyId: z.string().min(1).optional(),
  grant: z.enum(["authorization_code", "client_credentials", "enterprise_managed"]).optional(),
  identityProvider: z
    .object({
      tokenEndpoint: httpUrl,
      clientId: z.string().min(1),
      clientSecret: z.string().min(1).optional(),
      tokenEndpointAuthMethod: z.enum(["client_secret_basic", "client_secret_post", "none"]).optional(),
      idToken: z.union([z.string().min(1), fn]),
    })
    .strict()
    .optional(),
  clientMetadataUrl: cimdUrl.optional(),
  openBrowser: fn.optional(),
  callbackTimeoutMs: z.number().int().positive().optional(),
  fetch: fn.optional(),
  allowInsecureHttp: z.boolean().optional(),
  allowPrivateNetworks: z.boolean().optional(),
  signal: z.instanceof(AbortSignal).optional(),
  onEvent: fn.optional(),
  logger: z.custom<OAuthLogger>((value) => typeof (value as OAuthLogger | null)?.warn === "function", "expected an object with a warn method").optional(),
  requestTimeoutMs: z.number().int().positive().optional(),
  maxResponseBytes: z.number().int().positive().optional(),
  maxStepUpAttempts: z.number().int().min(0).max(10).optional(),
  maxRetries: z.number().int().min(0).max(10).optional(),
  maxRetryAfterMs: z.number().int().min(0).optional(),
  now: fn.optional(),
} satisfies Record<keyof OAuthOptions, z.ZodType>;

const schema = z
  .object(shape)
  .strict()
  .refine((value) => value.allowInsecureHttp || !isInsecureMcpUrl(value.mcpUrl), {
    message: "http: is allowed only on a loopback host (localhost, 127.0.0.0/8, ::1): tokens would travel in clear text. Use https:, or set allowInsecureHttp for development",
    path: ["mcpUrl"],
  })
  .refine((value) => !(value.clientSecret && !value.clientId), { message: "clientSecret needs clientId", path: ["clientSecret"] })
  .refine((value) => !(value.privateKey && !value.clientId), { message: "privateKey needs clientId", path: ["privateKey"] })
  .refine((value) => !(value.privateKey && value.clientSecret), { message: "give clientSecret or privateKey, not both", path: ["privateKey"] })
  .refine((value) => !((value.signingAlgorithm || value.keyId) && !value.privateKey), { message: "needs privateKey", path: ["signingAlgorithm"] })
  .refine((value) => value.grant !== "client_credentials" || (value.clientId && (value.clientSecret || value.privateKey)), {
    message: "client_credentials needs clientId with clientSecret or privateKey",
    path: ["grant"],
  })
  .refine((value) => (value.grant === "enterprise_managed") === (value.identityProvider !== undefined), {
    message: "identityProvider goes with grant: \"enterprise_managed\", and that grant needs it",
    path: ["identityProvider"],
  })
  .refine((value) => value.grant !== "enterprise_managed" || value.clientId, { message: "enterprise_managed needs clientId", path: ["grant"] });

export function resolveOptions(options: OAuthOptions): ResolvedOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join(".") || (issue?.code === "unrecognized_keys" ? issue.keys.join(", ") : "options");
    throw new OAuthError("invalid_options", `invalid option \`${name}\`: ${issue?.message ?? "invalid"}`, { cause: parsed.error });
  }
  const logger = options.logger ?? console;
  const mcpUrl = new URL(String(options.mcpUrl));
  mcpUrl.hash = "";
  // Before the default store, so that an unreadable key leaves no process-wide store and warning behind.
  const signingKey = options.privateKey ? loadSigningKey(options.privateKey, options.signingAlgorithm, options.keyId) : undefined;
  const tokenStorage = options.tokenStorage ?? defaultTokenStorage(logger);
  const requestTimeoutMs = options.requestTimeoutMs ?? defaultBackChannelLimits.timeoutMs;
  const storageTimeoutMs = options.storageTimeoutMs ?? 5_000;
  return {
    mcpUrl,
    serverKey: serverKeyOf(mcpUrl),
    scopes: splitScopes(options.scopes),
    clientName: options.clientName ?? "FastMCP Client",
    tokenStorage,
    lock: options.lock ?? defaultLock(tokenStorage, logger),
    lockLeaseMs: options.lockLeaseMs ?? requestTimeoutMs + 2 * storageTimeoutMs,
    lockTimeoutMs: options.lockTimeoutMs ?? 60_000,
    storageTimeoutMs,
    additionalClientMetadata: options.additionalClientMetadata ?? {},
    callbackPort: options.callbackPort,
    authorizationServer: options.authorizationServer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    signingKey,
    grant: options.grant ?? "authorization_code",
    identityProvider: options.identityProvider,
    clientMetadataUrl: options.clientMetadataUrl,
    openBrowser: options.openBrowser,
    callbackTimeoutMs: options.callbackTimeoutMs ?? 300_000,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    network: {
      mcpUrl,
      allowInsecureHttp: options.allowInsecureHttp ?? false,
      allowPrivateNetworks: options.allowPrivateNetworks ?? false,
      namedOrigins: new Set([options.identityProvider?.tokenEndpoint, options.authorizationServer].flatMap((url) => (url === undefined ? [] : [new URL(String(url)).origin]))),
      lookup: (options as { [resolverSeam]?: LookupFunction })[resolverSeam] ?? systemLookup,
      userFetch: options.fetch,
    },
    signal: options.signal,
    onEvent: options.onEvent ?? (() => {}),
    logger,
    requestTimeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? defaultBackChannelLimits.maxResponseBytes,
    maxStepUpAttempts: options.maxStepUpAttempts ?? 2,
    maxRetries: options.maxRetries ?? 2,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 10_000,
    now: options.now ?? Date.now,
  };
}

/** An `http:` MCP URL on a host that is not loopback. */
function isInsecureMcpUrl(value: string | URL): boolean {
  const url = new URL(String(value));
  return url.protocol === "http:" && !isLoopbackHostname(url.hostname);
}

export function splitScopes(scopes: string | readonly string[] | undefined): string[] {
  if (scopes === undefined) return [];
  const list = typeof scopes === "string" ? scopes.split(" ") : scopes;
  return [...new Set(list.filter((scope) => scope.length > 0))];
}
