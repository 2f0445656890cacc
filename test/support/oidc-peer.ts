/**
 * oidc-provider (panva) as the authorization server, plus a minimal MCP resource that checks its access
 * tokens, in one Node 22 process (oidc-provider 9 supports Node 22+):
 *
 *   npx -y -p node@22 node test/support/oidc-peer.ts [accessTokenTtlSeconds] [refreshedAccessTokenTtlSeconds]
 *
 * Node 22 runs this file by stripping its types, so it imports nothing from the project. It prints
 * `{"origin": ...}` once listening and exits when its stdin closes. Refresh token rotation with reuse
 * detection is oidc-provider's default for public clients and is left on. The login is finished without
 * a person: the interaction route logs the user in and grants what was asked, as a user clicking "allow" would.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type KoaContextWithOIDC } from "oidc-provider";

const accessTokenTtl = Number(process.argv[2] ?? 3600);
// Access tokens from a refresh may live longer, so a test can watch one expiry without racing the next.
const refreshedAccessTokenTtl = Number(process.argv[3] ?? accessTokenTtl);
const scope = "mcp:tools";
const counts: Record<string, number> = {};
const count = (name: string) => void (counts[name] = (counts[name] ?? 0) + 1);

const server = createServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const mcpUrl = `${origin}/mcp`;

const provider = new Provider(origin, {
  clients: [],
  cookies: { keys: ["mcp-oauth-test-cookie-key"] },
  scopes: ["openid", "offline_access", scope],
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => mcpUrl,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx: KoaContextWithOIDC) => ({
        scope,
        accessTokenFormat: "opaque",
        accessTokenTTL: ctx.oidc.params?.grant_type === "refresh_token" ? refreshedAccessTokenTtl : accessTokenTtl,
      }),
    },
  },
  // MCP clients ask for the refresh_token grant at registration; that is enough here.
  issueRefreshToken: async (_ctx: KoaContextWithOIDC, client) => client.grantTypeAllowed("refresh_token"),
  findAccount: async (_ctx: KoaContextWithOIDC, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
});

provider.on("grant.success", (ctx: KoaContextWithOIDC) => count(`grant:${String(ctx.oidc.params?.grant_type)}`));
provider.on("grant.error", (_ctx: KoaContextWithOIDC, error: { error?: string }) => count(`grant_error:${error.error ?? "unknown"}`));
provider.on("authorization.success", () => count("authorization"));
provider.on("registration_create.success", () => count("registration"));

const oidc = provider.callback();
server.on("request", (req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? "/", origin);
  count(`${req.method} ${url.pathname.replace(/\/interaction\/.+/, "/interaction/:uid").replace(/\/auth\/.+/, "/auth/:uid")}`);
  const route = url.pathname.startsWith("/interaction/")
    ? interact(req, res)
    : url.pathname === "/.well-known/oauth-protected-resource/mcp"
      ? json(res, 200, { resource: mcpUrl, authorization_servers: [origin], scopes_supported: [scope] })
      : url.pathname === "/mcp"
        ? mcp(req, res)
        : url.pathname === "/test/stats"
          ? json(res, 200, counts)
          : oidc(req, res);
  Promise.resolve(route).catch((error: unknown) => {
    if (!res.headersSent) json(res, 500, { error: String(error) });
  });
});

/** Logs in as `user` and grants every missing scope: what a person clicking through would do. */
async function interact(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "login") {
    await provider.interactionFinished(req, res, { login: { accountId: "user" } }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = details.session?.accountId ?? "user";
  const clientId = String(details.params.client_id);
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
  if (!grant) throw new Error("grant vanished");
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(" "));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

/** The protected resource: any JSON-RPC call succeeds with a valid access token for it, else 401. */
async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  for await (const chunk of req) void chunk;
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  const found = token ? await provider.AccessToken.find(token) : undefined;
  if (!found || found.isExpired || found.aud !== mcpUrl) {
    count(token ? "mcp:401:rejected" : "mcp:401:no_token");
    res.setHeader("www-authenticate", `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`);
    json(res, 401, { error: "invalid_token" });
    return;
  }
  count("mcp:200");
  json(res, 200, { jsonrpc: "2.0", id: 1, result: { tools: [] } });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

process.stdout.write(`${JSON.stringify({ origin, mcpUrl })}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
