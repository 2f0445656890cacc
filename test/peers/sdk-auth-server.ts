import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type RequestHandler, type Response } from "express";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import {
  createOAuthMetadata,
  getOAuthProtectedResourceMetadataUrl,
  mcpAuthRouter,
} from "@modelcontextprotocol/sdk/server/auth/router.js";
import { handleMcpRequest } from "../../examples/mcp-tools.js";
import { SdkAuthProvider, type SdkAuthFaults } from "./sdk-auth-provider.js";

export type { SdkAuthFaults } from "./sdk-auth-provider.js";
export { SdkAuthProvider } from "./sdk-auth-provider.js";

export interface SdkAuthServerOptions {
  /** Advertised in AS metadata and PRM; also the default grant when a client asks for no scope. Unknown requested scopes are refused. */
  scopesSupported?: string[];
  /** Scopes every /mcp call must carry, else 403 insufficient_scope. */
  requiredScopes?: string[];
  /** Access token lifetime; short values let tests hit expiry for real. Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Whether token responses include a (rotating) refresh token. Default true. */
  issueRefreshTokens?: boolean;
  /** Whether authorization responses carry `iss` and the metadata says so (RFC 9207). Default true. */
  sendIss?: boolean;
  /** Merged over the served AS metadata; a key set to `undefined` is removed. */
  metadataOverrides?: Record<string, unknown>;
  /** Protected resource metadata names the whole origin as the resource instead of `/mcp`. Default false. */
  resourceIsOrigin?: boolean;
  /**
   * Merged over the served protected resource metadata; a key set to `undefined` is removed. A function
   * gets the server's origin, known only once it listens.
   */
  prmOverrides?: Record<string, unknown> | ((origin: string) => Record<string, unknown>);
  /** Initial faults; change them later through `server.faults`. */
  faults?: SdkAuthFaults;
  /**
   * A 2025-03-26 server: no protected resource metadata (404) and a 401 without `resource_metadata`, so
   * clients fall back to the authorization server metadata at the origin. Default false.
   */
  legacy?: boolean;
}

/** One HTTP request as it reached the server, before any handler ran. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** urlencoded body params (/token, /revoke, POST /authorize); empty when no handler parsed a form (e.g. a JSON /token body). */
  form: Record<string, string>;
  /** Parsed JSON body (/register, /mcp); undefined when no handler parsed one (e.g. /mcp rejected with 401). */
  json: unknown;
  /** The raw Authorization header. */
  authorization: string | undefined;
  at: number;
}

export interface SdkAuthServer {
  /** `${origin}/mcp`, the protected resource. */
  readonly mcpUrl: string;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly origin: string;
  /** The issuer exactly as served in AS metadata and `iss` (`${origin}/`). */
  readonly issuer: string;
  readonly provider: SdkAuthProvider;
  readonly requests: RecordedRequest[];
  /** Mutable; read on every request. */
  readonly faults: SdkAuthFaults;
  count(match: string | ((request: RecordedRequest) => boolean)): number;
  tokensIssued(): string[];
  revokeAllAccessTokens(): void;
  forgetClients(): void;
  close(): Promise<void>;
}

export async function startSdkAuthServer(options: SdkAuthServerOptions = {}): Promise<SdkAuthServer> {
  const app = express();
  const httpServer = createServer(app);
  // Listen first: the issuer, and therefore every route below, depends on the OS-picked port.
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const mcpUrl = `${origin}/mcp`;
  const issuerUrl = new URL(origin);
  const issuer = issuerUrl.href;
  const scopes = options.scopesSupported ? { scopesSupported: options.scopesSupported } : {};
  const sendIss = options.sendIss ?? true;

  const faults: SdkAuthFaults = { ...options.faults };
  const provider = new SdkAuthProvider({
    issuer,
    faults,
    scopesSupported: options.scopesSupported,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    issueRefreshTokens: options.issueRefreshTokens ?? true,
    sendIss,
  });
  const requests: RecordedRequest[] = [];

  app.use(recordRequests(requests, origin));
  app.use("/token", (_req, _res, next) => {
    const delay = faults.tokenDelayMs ?? 0;
    if (delay > 0) setTimeout(next, delay);
    else next();
  });

  // Served ahead of mcpAuthRouter, which would otherwise answer these paths with metadata we cannot extend.
  const asMetadata = {
    ...createOAuthMetadata({ provider, issuerUrl, ...scopes }),
    ...(sendIss ? { authorization_response_iss_parameter_supported: true } : {}),
    ...options.metadataOverrides,
  };
  const prm = {
    resource: options.resourceIsOrigin ? origin : mcpUrl,
    authorization_servers: [issuer],
    scopes_supported: options.scopesSupported,
    ...(typeof options.prmOverrides === "function" ? options.prmOverrides(origin) : options.prmOverrides),
  };
  // JSON serialisation drops undefined-valued keys, which is what makes "override with undefined" a removal.
  app.get("/.well-known/oauth-authorization-server", (_req, res) => void res.json(asMetadata));
  if (options.legacy) app.get(/^\/\.well-known\/oauth-protected-resource/, (_req, res) => void res.status(404).end());
  else app.get("/.well-known/oauth-protected-resource/mcp", (_req, res) => void res.json(prm));

  const noRateLimit = { rateLimit: false } as const;
  app.use(
    mcpAuthRouter({
      provider,
      issuerUrl,
      resourceServerUrl: new URL(mcpUrl),
      ...scopes,
      authorizationOptions: noRateLimit,
      tokenOptions: noRateLimit,
      clientRegistrationOptions: noRateLimit,
      revocationOptions: noRateLimit,
    }),
  );

  app.use(
    "/mcp",
    requireBearerAuth({
      verifier: provider,
      requiredScopes: options.requiredScopes ?? [],
      ...(options.legacy ? {} : { resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(new URL(mcpUrl)) }),
    }),
  );
  app.post("/mcp", express.json(), (req, res) => void handleMcpRequest(req, res, req.body));
  // Stateless: no standalone SSE stream and no session to delete, as in the SDK's stateless example.
  app.get("/mcp", methodNotAllowed);
  app.delete("/mcp", methodNotAllowed);

  let closing: Promise<void> | undefined;
  return {
    mcpUrl,
    origin,
    issuer,
    provider,
    requests,
    faults,
    count: (match) => requests.filter(typeof match === "string" ? (r) => r.path === match : match).length,
    tokensIssued: () => provider.tokensIssued(),
    revokeAllAccessTokens: () => provider.revokeAllAccessTokens(),
    forgetClients: () => provider.forgetClients(),
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        httpServer.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets from fetch would otherwise hold close() open until they time out.
        httpServer.closeAllConnections();
      })),
  };
}

function methodNotAllowed(_req: Request, res: Response): void {
  res.status(405).json({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null });
}

function recordRequests(requests: RecordedRequest[], origin: string): RequestHandler {
  return (req, res, next) => {
    const url = new URL(req.originalUrl, origin);
    const record: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: {},
      json: undefined,
      authorization: req.headers.authorization,
      at: Date.now(),
    };
    requests.push(record);

    // Bodies are parsed later, by the SDK's own per-route parsers; reading req.body as the response head
    // goes out (every response path, res.end included, goes through writeHead) sees their result without
    // parsing twice, and happens before the client can observe the response.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      const body: unknown = req.body;
      if (req.is("application/x-www-form-urlencoded") && typeof body === "object" && body !== null) {
        for (const [key, value] of Object.entries(body)) {
          if (typeof value === "string") record.form[key] = value;
        }
      } else if (req.is("application/json")) {
        record.json = body;
      }
      return writeHead(...args);
    }) as typeof res.writeHead;
    next();
  };
}
