import type { z } from "zod";
import { isLoopbackHost } from "../shared/back-channel.js";
import { ClientMetadataDocuments, isClientIdUrl } from "./client-metadata-documents.js";
import { preflight, withCors } from "./cors.js";
import { authorizationResponseUrl, handleAuthorize, mintAuthorizationCode } from "./handle-authorize.js";
import { authorizationServerMetadata, metadataPaths, metadataResponse, protectedResourceMetadata } from "./handle-metadata.js";
import { handleRegister } from "./handle-register.js";
import { handleRevoke } from "./handle-revoke.js";
import { handleToken } from "./handle-token.js";
import { errorPage } from "./html.js";
import { methodNotAllowed, oauthErrorResponse } from "./http.js";
import { resolveProviderOptions, type OAuthProviderOptions, type ResolvedProviderOptions } from "./options.js";
import { checkRateLimit, type LimitedEndpoint } from "./rate-limit.js";
import { checkBearer, type BearerCheck, type BearerOptions } from "./require-bearer.js";
import { asServerError, OAuthServerError } from "./server-errors.js";
import type {
  AccessToken,
  Approval,
  AuthorizationCode,
  AuthorizationRequest,
  RefreshRotation,
  RefreshToken,
  RegisteredClient,
  Revocation,
  TokenSet,
} from "./types.js";

type Route = { methods: string; cors: boolean; handle: (request: Request) => Promise<Response>; limit?: LimitedEndpoint };

/** What `handle` knows of a request besides the request itself; the adapters fill it in. */
export interface RequestInfo {
  /**
   * The client's IP address, for the per-client rate limits. `toNodeListener` and `nodeMiddleware` pass
   * the socket's address, or with `trustedProxies` the one the nearest untrusted hop was seen from.
   */
  clientAddress?: string;
}

/**
 * A complete OAuth 2.1 authorization server for an MCP server (FastMCP's `OAuthProvider`, in TypeScript):
 * RFC 8414 and RFC 9728 metadata, `/register` (RFC 7591), `/authorize`, `/token`, `/revoke` (RFC 7009), and
 * the bearer guard for the MCP endpoint.
 *
 * This class does the protocol: request validation, exact redirect URI matching, PKCE, `iss`, resource
 * binding, client authentication, code and token minting, refresh token rotation with its grace window,
 * reuse detection. A subclass supplies storage, users and consent through the abstract methods, whose
 * contracts below it must keep. Tokens reach storage only as hashes (`id`); the store never holds a
 * token a client could present.
 *
 * `handle(request)` is a web-standard `(Request) => Promise<Response>` handler; mount it with
 * `toNodeListener`/`nodeMiddleware` for `node:http` and Express, or call it from any fetch-style framework.
 */
export abstract class OAuthProvider {
  /** The resolved options: issuer, resource, endpoint URLs, lifetimes. */
  protected readonly options: ResolvedProviderOptions;
  readonly #routes: Map<string, Route>;
  readonly #documents: ClientMetadataDocuments | undefined;

  /** `extraShape` lets a subclass validate its own options with the same zod check (unknown keys are refused). */
  constructor(options: OAuthProviderOptions, extraShape: z.ZodRawShape = {}) {
    this.options = resolveProviderOptions(options, extraShape);
    const documents = this.options.clientMetadataDocuments;
    this.#documents = documents ? new ClientMetadataDocuments({ ...this.options, clientMetadataDocuments: documents }) : undefined;
    this.#routes = this.#buildRoutes();
  }

  /** Where the endpoints are served (`baseUrl`); the node adapters build request URLs on it. */
  get baseUrl(): string {
    return this.options.baseUrl.href;
  }

  /** The issuer identifier, exactly as served in metadata and in `iss`. */
  get issuer(): string {
    return this.options.issuer;
  }

  /** The protected resource (the MCP endpoint URL) tokens are bound to. */
  get resource(): string {
    return this.options.resource;
  }

  /** The URL of the RFC 9728 metadata of the MCP endpoint, as named in 401 challenges. */
  get resourceMetadataUrl(): string {
    return this.options.resourceMetadataUrl;
  }

  // ---- Abstract methods: what a subclass must provide, and must guarantee. ----

  /**
   * The client with this id, or undefined. Called on every authorization, token and revocation request,
   * except with `clientMetadataDocuments` on for an `https:` URL id: that client is its metadata document.
   */
  abstract getClient(clientId: string): Promise<RegisteredClient | undefined>;

  /** Stores a newly registered client (already validated; `client_id` fresh; the secret only as a hash). */
  abstract registerClient(client: RegisteredClient): Promise<void>;

  /**
   * Authenticates the user and collects consent for a request this class has already validated (client,
   * redirect URI, PKCE, scope, resource). Returns the URL to send the browser to: usually the subclass's
   * own login or consent page (served through `addRoute`); once the user decides, that page
   * sends the browser to `await this.approve(request, approval)` or `this.deny(request)`. A subclass that
   * needs no interaction may return `approve(...)` at once. A thrown `OAuthServerError` (e.g.
   * `access_denied`) is answered like a validation error: a redirect to a trusted redirect URI (see
   * `trustsRedirectUri`), else the error page. To send the user back with an error in any case, return
   * `this.deny(request, ...)`.
   */
  abstract authorize(client: RegisteredClient, request: AuthorizationRequest, httpRequest: Request): Promise<string>;

  /** Stores a new authorization code record (keyed by `code.id`) until `code.expiresAt`. */
  abstract saveAuthorizationCode(code: AuthorizationCode): Promise<void>;

  /**
   * The code record with this id, or undefined when unknown. Should keep returning a consumed code (with
   * `consumedAt`) until it expires, so a replay can be detected and its grant revoked.
   */
  abstract loadAuthorizationCode(codeId: string): Promise<AuthorizationCode | undefined>;

  /**
   * Atomically consumes the code and stores the tokens issued for it. Resolves `true` when this call
   * consumed it, `false` when it was already consumed (or is gone). Of two concurrent calls for one code,
   * exactly one may resolve `true`: a get-then-set is not enough; use a compare-and-set, a transaction,
   * `UPDATE ... WHERE consumed_at IS NULL`, Redis `SET NX`/`GETDEL`/Lua. Store `tokens` only on `true`.
   */
  abstract exchangeAuthorizationCode(code: AuthorizationCode, tokens: TokenSet): Promise<boolean>;

  /**
   * The refresh token record with this id, or undefined when unknown, revoked or expired. Must keep
   * returning a rotated token (with `rotatedAt` and `successorId`) until it expires: a rotated token
   * presented again is how reuse is detected. `successor` should be returned only during the grace
   * window (until `rotatedAt + options.refreshGraceMs`) and then forgotten, since together with the old
   * token it leads to the live one.
   */
  abstract loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined>;

  /**
   * Atomically rotates `current`: if the stored record is not rotated yet, set its `rotatedAt`,
   * `successorId` and (for the grace window only) `successor` from `rotation`, store `rotation.tokens`,
   * and resolve `true`; if it was rotated already (or is gone), change nothing and resolve `false`. The
   * same atomicity as `exchangeAuthorizationCode` is required: two concurrent rotations of one token,
   * exactly one `true`.
   */
  abstract exchangeRefreshToken(current: RefreshToken, rotation: RefreshRotation): Promise<boolean>;

  /** The access token record with this id, or undefined when unknown or revoked. Expiry is checked by this class. */
  abstract loadAccessToken(tokenId: string): Promise<AccessToken | undefined>;

  /**
   * Revokes one access token, or a whole grant: every access token, refresh token (rotated ones too) and
   * code with that `grantId`, after which the load methods return undefined for them. Idempotent.
   */
  abstract revokeToken(revocation: Revocation): Promise<void>;

  /**
   * The access token record for a bearer token presented to the MCP endpoint, or undefined. Usually
   * `this.loadAccessToken(hashToken(token))`; override the lookup for other token formats. Expiry,
   * audience (resource) and scopes are checked by this class on whatever this returns.
   */
  abstract verifyToken(token: string): Promise<AccessToken | undefined>;

  // ---- Helpers for subclasses. ----

  /**
   * Completes an approved authorization: mints the code (bound to the client, redirect URI, PKCE
   * challenge, scopes, resource and user), stores it, and returns the redirect URL back to the client
   * with `code`, `state` and `iss`.
   */
  protected async approve(request: AuthorizationRequest, approval: Approval): Promise<string> {
    const { code, record } = mintAuthorizationCode(request, approval, this.options);
    await this.saveAuthorizationCode(record);
    return authorizationResponseUrl(request.redirectUri, { code }, request.state, this.options.issuer);
  }

  /**
   * Whether an authorization error found before any user interaction (a bad `response_type`, missing
   * PKCE, an unknown scope, an error thrown by `authorize`) may be sent to this redirect URI, which is
   * already known to be registered for the client. Redirecting such errors to any registered URI would
   * let whoever can register a client bounce browsers from this server to a site of their choice
   * (RFC 9700 §4.11.2); untrusted URIs get the error page instead. Default: loopback `http:` redirect
   * URIs only (a native app on the user's machine; nothing there a remote attacker can host).
   * `InMemoryOAuthProvider` also trusts its pre-registered `clients`.
   */
  protected trustsRedirectUri(_client: RegisteredClient, redirectUri: string): boolean {
    const url = new URL(redirectUri);
    return url.protocol === "http:" && isLoopbackHost(url.hostname);
  }

  /** The redirect URL that tells the client the user refused (or another RFC 6749 §4.1.2.1 error). */
  protected deny(request: AuthorizationRequest, error = "access_denied", description = "the user denied the request"): string {
    return authorizationResponseUrl(request.redirectUri, { error, error_description: description }, request.state, this.options.issuer);
  }

  /**
   * Serves a subclass page (login, consent) at `path` under `baseUrl`, e.g. `addRoute("/consent", ...)`.
   * Its errors are the subclass's to render; no CORS headers are added.
   */
  protected addRoute(path: string, methods: string, handle: (request: Request) => Promise<Response>): void {
    this.#routes.set(`${this.options.basePath}${path}`, { methods, cors: false, handle });
  }

  // ---- Serving. ----

  /** Whether `handle` serves this request's path (an OAuth endpoint, metadata, or a page added with `addRoute`). */
  matches(target: Request | URL | string): boolean {
    return this.#routes.has(new URL(target instanceof Request ? target.url : target).pathname);
  }

  /**
   * The web-standard handler: every endpoint and metadata document. Unknown paths answer 404. `info` gives
   * the client's address for the per-client rate limits (the node adapters pass it).
   */
  readonly handle = async (request: Request, info: RequestInfo = {}): Promise<Response> => {
    const route = this.#routes.get(new URL(request.url).pathname);
    if (!route) return new Response("Not Found", { status: 404 });
    if (request.method === "OPTIONS" && route.cors) return preflight(route.methods);
    if (!route.methods.split(", ").includes(request.method)) return methodNotAllowed(route.methods);
    let response: Response;
    try {
      response = (await this.#overLimit(route, info)) ?? (await route.handle(request));
    } catch (error) {
      response = oauthErrorResponse(asServerError(error, this.options.onError));
    }
    if (request.method === "HEAD") response = new Response(null, { status: response.status, headers: response.headers });
    return route.cors ? withCors(response) : response;
  };

  /**
   * Checks the bearer token of a request to the MCP endpoint. Hand `auth` to the MCP SDK transport (as
   * `req.auth`, or `handleRequest(request, { authInfo: auth })`); otherwise send `response`.
   */
  authenticate(request: Request, options?: BearerOptions): Promise<BearerCheck> {
    return this.checkAuthorization(request.headers.get("authorization"), options);
  }

  /** `authenticate` for frameworks that hand over only the `Authorization` header. */
  checkAuthorization(authorization: string | null | undefined, options?: BearerOptions): Promise<BearerCheck> {
    return checkBearer(authorization, this.options, (token) => this.verifyToken(token), options);
  }

  /** The 429 for a request over its endpoint's budget, or undefined. A failing limiter lets it through. */
  async #overLimit(route: Route, info: RequestInfo): Promise<Response | undefined> {
    const rateLimits = this.options.rateLimits;
    const limits = route.limit && rateLimits?.endpoints[route.limit];
    if (!route.limit || !rateLimits || !limits) return undefined;
    let wait: number;
    try {
      wait = await checkRateLimit(rateLimits.limiter, route.limit, limits, info.clientAddress);
    } catch (error) {
      this.options.onError(error);
      return undefined;
    }
    if (wait <= 0) return undefined;
    const retryAfter = { "retry-after": String(wait) };
    const description = `too many requests; try again in ${wait} s`;
    if (route.limit === "authorize") {
      const page = errorPage("temporarily_unavailable", description, 429);
      page.headers.set("retry-after", retryAfter["retry-after"]);
      return page;
    }
    return oauthErrorResponse(new OAuthServerError("temporarily_unavailable", description, 429), retryAfter);
  }

  #buildRoutes(): Map<string, Route> {
    const o = this.options;
    const routes = new Map<string, Route>();
    const metadata = async () => metadataResponse(authorizationServerMetadata(o));
    for (const path of metadataPaths(o.issuer)) routes.set(path, { methods: "GET, HEAD", cors: true, handle: metadata });
    routes.set(new URL(o.resourceMetadataUrl).pathname, { methods: "GET, HEAD", cors: true, handle: async () => metadataResponse(protectedResourceMetadata(o)) });
    // A URL client id is its metadata document when those are on; any other id is the subclass's.
    const getClient = (id: string) => (this.#documents && isClientIdUrl(id) ? this.#documents.get(id) : this.getClient(id));
    const authorizeDeps = {
      getClient,
      trustsRedirectUri: (client: RegisteredClient, uri: string) => this.trustsRedirectUri(client, uri),
      authorize: (client: RegisteredClient, request: AuthorizationRequest, http: Request) => this.authorize(client, request, http),
    };
    const tokenDeps = {
      getClient,
      loadAuthorizationCode: (id: string) => this.loadAuthorizationCode(id),
      exchangeAuthorizationCode: (code: AuthorizationCode, tokens: TokenSet) => this.exchangeAuthorizationCode(code, tokens),
      loadRefreshToken: (id: string) => this.loadRefreshToken(id),
      loadAccessToken: (id: string) => this.loadAccessToken(id),
      exchangeRefreshToken: (current: RefreshToken, rotation: RefreshRotation) => this.exchangeRefreshToken(current, rotation),
      revokeToken: (revocation: Revocation) => this.revokeToken(revocation),
    };
    routes.set(`${o.basePath}/authorize`, { methods: "GET, POST", cors: false, handle: (r) => handleAuthorize(r, o, authorizeDeps), limit: "authorize" });
    routes.set(`${o.basePath}/token`, { methods: "POST", cors: true, handle: (r) => handleToken(r, o, tokenDeps), limit: "token" });
    if (o.registration.enabled) {
      routes.set(`${o.basePath}/register`, { methods: "POST", cors: true, handle: (r) => handleRegister(r, o, (client) => this.registerClient(client)), limit: "register" });
    }
    if (o.revocationEnabled) routes.set(`${o.basePath}/revoke`, { methods: "POST", cors: true, handle: (r) => handleRevoke(r, o, tokenDeps), limit: "revoke" });
    return routes;
  }
}
