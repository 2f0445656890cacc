/**
 * oidc-provider (panva) as a machine-to-machine authorization server, for the client credentials tests.
 * It needs Node 22, so the tests start this file in a child process on the `node@22` package's Node.
 *
 * Input (env OIDC_M2M_CONFIG): the static clients and the MCP resource. Output: one JSON line on stdout
 * with the issuer, then one JSON line per token request, so the test can count and inspect them.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

interface Config {
  resource: string;
  clients: Record<string, unknown>[];
}

const config = JSON.parse(process.env.OIDC_M2M_CONFIG ?? "{}") as Config;
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const provider = new Provider(issuer, {
  clients: config.clients as never,
  scopes: ["mcp:read", "mcp:write"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Tokens only for the one MCP resource under test; anything else is invalid_target.
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        if (resource !== config.resource) throw new Error(`unknown resource ${resource}`);
        return { scope: "mcp:read mcp:write", accessTokenFormat: "opaque", accessTokenTTL: 3600 };
      },
    },
  },
  clientAuthMethods: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
  enabledJWA: { clientAuthSigningAlgValues: ["RS256", "PS256", "ES256", "ES384", "Ed25519", "EdDSA"] },
});

provider.on("grant.success", (ctx) => {
  console.log(JSON.stringify({ event: "token", grant: ctx.oidc.params?.grant_type, client: ctx.oidc.client?.clientId, resource: ctx.oidc.params?.resource }));
});
provider.on("grant.error", (_ctx, error) => {
  console.log(JSON.stringify({ event: "token_error", error: error.error, description: error.error_description }));
});
server.on("request", provider.callback());
console.log(JSON.stringify({ event: "ready", issuer }));
