/**
 * oidc-provider 9 (panva) as the authorization server of a real MCP server, in one process, as a
 * deployment that picked oidc-provider for its MCP server would run it. oidc-provider 9 needs Node 22, so
 * test/interop/servers/oidc-provider.ts starts this file on the `node@22` package's Node through tsx
 * (`startNode22Peer`): tsx, not bare type stripping, because this file imports the MCP tools of
 * examples/mcp-tools.ts by their `.js` names.
 *
 * Input: env OIDC_INTEROP_TOKEN_TTL (access token lifetime, seconds). Output: one JSON line
 * `{"event":"ready","origin":...,"mcpUrl":...}` once listening. Routes besides oidc-provider's own:
 *
 *   POST /mcp                                   the MCP server (Streamable HTTP, stateless), bearer-guarded
 *   GET  /.well-known/oauth-protected-resource/mcp   its protected resource metadata (RFC 9728)
 *   GET  /test/stats                            counters: "token:<grant_type>", "grant_error:<code>", "mcp:200"...
 *
 * Unlike test/support/oidc-peer.ts, which finishes the interaction in code, the user goes through
 * oidc-provider's own login and consent pages (devInteractions), so the interop browser fills real forms.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import Provider, { errors, type KoaContextWithOIDC } from "oidc-provider";
import { handleMcpRequest } from "../../../examples/mcp-tools.js";

const accessTokenTtl = Number(process.env.OIDC_INTEROP_TOKEN_TTL ?? 3600);
if (!Number.isSafeInteger(accessTokenTtl) || accessTokenTtl <= 0) throw new Error(`OIDC_INTEROP_TOKEN_TTL must be a positive integer, got ${accessTokenTtl}`);
/** The one scope of the MCP resource: what its protected resource metadata advertises and its tokens carry. */
const scope = "mcp:tools";
const counts: Record<string, number> = {};
const count = (name: string) => void (counts[name] = (counts[name] ?? 0) + 1);

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const mcpUrl = `${origin}/mcp`;
const resourceMetadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;

const provider = new Provider(origin, {
  clients: [],
  cookies: { keys: ["mcp-oauth-interop-cookie-key"] },
  // Every scope a client may put in its registration's `scope` (oidc-provider refuses the registration
  // otherwise): the MCP scope, which the protected resource metadata advertises; openid and offline_access;
  // and, through `claims` below, email and profile ("openid email profile" is mcp-remote's fallback scope
  // when nothing advertises one, so a client may well register with it).
  // The MCP scope stays a static scope, so a client that registered without it and then asks for it is
  // refused with invalid_scope, as RFC 7591's `scope` ("scopes the client can use") says it may be.
  scopes: ["openid", "offline_access", scope],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username"] },
  features: {
    // The real login form (any login, any password) and consent form that the interop browser fills.
    devInteractions: { enabled: true },
    // MCP clients register themselves (RFC 7591), with no initial access token, as MCP servers expect.
    registration: { enabled: true },
    revocation: { enabled: true },
    // The MCP endpoint takes Bearer tokens only, so the server does not offer DPoP-bound ones either
    // (oidc-provider 9 advertises DPoP by default, and a DPoP-capable client would then bind its tokens).
    dPoP: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // A client must name the MCP resource at the authorization endpoint (RFC 8707, which the MCP
      // authorization spec makes a MUST). oidc-provider would otherwise go on and issue a token with no
      // audience, which the MCP endpoint then refuses with nothing to say why; invalid_target says it at once.
      defaultResource: (ctx: KoaContextWithOIDC, _client, oneOf?: readonly string[]) => {
        if (oneOf) return oneOf; // oidc-provider's default: several granted, none picked, is invalid_target later
        if (ctx.oidc.route === "authorization" || ctx.oidc.route === "pushed_authorization_request") {
          throw new errors.InvalidTarget("the resource parameter must name the MCP server (RFC 8707)");
        }
        return undefined;
      },
      // A refresh or code exchange without `resource` gets a token for the resource already granted (RFC
      // 8707 leaves this to the server) rather than, with `openid` in the grant, one for the userinfo
      // endpoint, which the MCP endpoint would refuse forever. The audience stays the MCP URL either way.
      useGrantedResource: () => true,
      // The MCP endpoint is the only resource: anything else is invalid_target.
      getResourceServerInfo: (_ctx: KoaContextWithOIDC, resource: string) => {
        if (resource !== mcpUrl) throw new errors.InvalidTarget(`unknown resource ${resource}`);
        // Opaque, so that the MCP endpoint has to ask oidc-provider (AccessToken.find) rather than trust a JWT.
        return { scope, accessTokenFormat: "opaque", accessTokenTTL: accessTokenTtl };
      },
    },
  },
  // OAuth 2.1: the authorization code flow only (oidc-provider also offers implicit and hybrid by default).
  responseTypes: ["code"],
  // OAuth 2.1: PKCE for every client, confidential ones too (oidc-provider's default asks it of public clients only).
  pkce: { required: () => true },
  // MCP clients ask for refresh tokens by registering the refresh_token grant, rarely by asking for
  // offline_access (oidc-provider's default condition), so the registered grant decides.
  issueRefreshToken: async (_ctx: KoaContextWithOIDC, client) => client.grantTypeAllowed("refresh_token"),
  // Every refresh rotates, with oidc-provider's reuse detection (a replayed refresh token is refused and
  // its grant revoked).
  // Its default rotates for public clients only, and for confidential ones after 70% of the refresh token's
  // lifetime (days here), so a client that registered with a secret would never see a new refresh token in
  // a test: rotating for all makes every cell check that the client keeps the newest one.
  rotateRefreshToken: true,
  // devInteractions logs in whatever login is typed; that login is the account.
  findAccount: async (_ctx: KoaContextWithOIDC, sub: string) => ({ accountId: sub, claims: async () => ({ sub, preferred_username: sub }) }),
});

// Token requests by grant type, whatever their outcome: every request ends in one of these two events.
provider.on("grant.success", (ctx: KoaContextWithOIDC) => count(`token:${String(ctx.oidc.params?.grant_type)}`));
provider.on("grant.error", (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
  count(`token:${String(ctx.oidc?.params?.grant_type)}`);
  count(`grant_error:${error.error}`);
});
provider.on("authorization.success", () => count("authorization"));
provider.on("authorization.error", (_ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => count(`authorization_error:${error.error}`));
provider.on("registration_create.success", () => count("registration"));
provider.on("registration_create.error", (_ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => count(`registration_error:${error.error}`));

const oidc = provider.callback();
server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  const path = new URL(req.url ?? "/", origin).pathname;
  // The pages the user goes through, so that a test can see the login and consent forms were really submitted.
  if (path.startsWith("/interaction/")) count(`${req.method} /interaction/:uid${path.endsWith("/abort") ? "/abort" : ""}`);
  const route =
    path === "/mcp"
      ? mcp(req, res)
      : path === "/.well-known/oauth-protected-resource/mcp"
        ? json(res, 200, { resource: mcpUrl, authorization_servers: [origin], scopes_supported: [scope], bearer_methods_supported: ["header"] })
        : path === "/test/stats"
          ? json(res, 200, counts)
          : oidc(req, res);
  Promise.resolve(route).catch((error: unknown) => {
    if (!res.headersSent) json(res, 500, { error: String(error) });
  });
});

/** The MCP endpoint: the MCP SDK's server for a valid access token issued for it, else 401 pointing at its metadata. */
async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  const auth = token ? await authenticate(token) : undefined;
  if (!auth) {
    count(token ? "mcp:401:rejected" : "mcp:401:no_token");
    // RFC 6750: say invalid_token only when a token was presented.
    const error = token ? 'error="invalid_token", ' : "";
    res.writeHead(401, { "www-authenticate": `Bearer ${error}resource_metadata="${resourceMetadataUrl}"`, "content-type": "application/json" });
    res.end(JSON.stringify({ error: token ? "invalid_token" : "unauthorized" }));
    return;
  }
  count("mcp:200");
  // As the MCP SDK's own bearer middleware does: tools see the token's details as `authInfo`.
  (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
  await handleMcpRequest(req, res);
}

/** oidc-provider's record of the token: it must exist (not revoked), be unexpired, and be meant for this endpoint. */
async function authenticate(token: string): Promise<AuthInfo | undefined> {
  const found = await provider.AccessToken.find(token);
  if (!found || found.isExpired || found.aud !== mcpUrl || !found.clientId) return undefined;
  count(`mcp:token_scope:${found.scope ?? ""}`);
  return {
    token,
    clientId: found.clientId,
    scopes: found.scope ? found.scope.split(" ") : [],
    ...(found.exp === undefined ? {} : { expiresAt: found.exp }),
    resource: new URL(mcpUrl),
    extra: { subject: found.accountId },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

console.log(JSON.stringify({ event: "ready", origin, mcpUrl }));
