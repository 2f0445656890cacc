import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { OAuth } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { asMetadata, startMetadataServer, type Route } from "./support/metadata-server.js";

/*
 * The full SEP-990 flow runs against the official conformance suite (npm run test:conformance). These are
 * the faults of an identity provider the suite's does not produce; the authorization server's token
 * endpoint must never be reached with something that is not an identity assertion.
 */
const cleanup = cleanupAfterEach();

async function enterprise(idpAnswer: Route, metadata: (origin: string) => Record<string, unknown> = (origin) => asMetadata(origin)) {
  const server = await startMetadataServer({
    "/.well-known/oauth-protected-resource/mcp": (origin) => ({ body: { resource: `${origin}/mcp`, authorization_servers: [origin] } }),
    "/.well-known/oauth-authorization-server": (origin) => ({ body: { ...metadata(origin), token_endpoint_auth_methods_supported: ["client_secret_basic"] } }),
    "/idp/token": idpAnswer,
  });
  cleanup(server.close);
  let idTokenCalls = 0;
  const oauth = new OAuth({
    mcpUrl: `${server.origin}/mcp`,
    grant: "enterprise_managed",
    clientId: "mcp-client",
    clientSecret: "mcp-secret",
    identityProvider: {
      tokenEndpoint: `${server.origin}/idp/token`,
      clientId: "idp-client",
      idToken: () => `id-token-${++idTokenCalls}`,
    },
    tokenStorage: new Keyv(),
  });
  return { server, oauth, idTokenCalls: () => idTokenCalls };
}

describe("enterprise-managed authorization (SEP-990) faults", () => {
  it("refuses a token exchange answer that is not an ID-JAG, before the authorization server sees it", async () => {
    const { server, oauth, idTokenCalls } = await enterprise({
      body: { access_token: "plain-access-token", issued_token_type: "urn:ietf:params:oauth:token-type:access_token", token_type: "Bearer" },
    });
    await expect(oauth.getAccessToken()).rejects.toMatchObject({ code: "token_exchange_failed", message: expect.stringContaining("not an ID-JAG") });
    expect(idTokenCalls()).toBe(1);
    expect(server.requested).toContain("/idp/token");
    expect(server.requested).not.toContain("/token");
  });

  it("reports the identity provider's refusal as a typed, non-transient error", async () => {
    const { server, oauth } = await enterprise({ status: 400, body: { error: "invalid_grant", error_description: "ID token expired" } });
    await expect(oauth.getAccessToken()).rejects.toMatchObject({ code: "token_exchange_failed", oauthError: "invalid_grant", status: 400, transient: false });
    expect(server.requested).not.toContain("/token");
  });

  it("needs no authorization endpoint and no PKCE at the authorization server: there is no browser step", async () => {
    const tokenEndpointOnly = (origin: string) => ({ issuer: origin, token_endpoint: `${origin}/token` });
    const { server, oauth } = await enterprise({ status: 400, body: { error: "invalid_grant" } }, tokenEndpointOnly);
    await expect(oauth.getAccessToken()).rejects.toMatchObject({ code: "token_exchange_failed", oauthError: "invalid_grant" });
    expect(server.requested).toContain("/idp/token");
  });
});
