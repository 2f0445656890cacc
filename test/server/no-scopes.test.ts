import { describe, expect, it } from "vitest";
import { oauthError, serverUnderTest, tokens } from "./support.js";

/**
 * A server configured with no scopes (no `validScopes`, no `requiredScopes`: the default) has none to grant.
 * Clients that ask for a scope anyway, as mcp-remote does with "openid email profile" when the server names
 * none, are served with the scope dropped (RFC 7591 §3.2.1, RFC 6749 §3.3), not refused.
 */
const noScopes = { clientRegistration: { enabled: true }, requiredScopes: [] };

describe("a server with no scopes configured", () => {
  it("registers a client that asks for a scope, without it, and logs it in with that scope in the request", async () => {
    const t = await serverUnderTest(noScopes);
    const client = await t.register({ scope: "openid email profile" });
    expect(client.scope).toBeUndefined();
    const login = await t.login(client, { scope: "openid email profile" });
    const first = await tokens(await t.redeem(client, login));
    expect(first.scope).toBeUndefined();
    expect((await t.mcp(first.access_token)).status).toBe(200);
    const refreshed = await tokens(await t.refresh(client, first.refresh_token!, { scope: "openid" }));
    expect(refreshed.scope).toBeUndefined();
    expect((await t.mcp(refreshed.access_token)).status).toBe(200);
  });

  it("with scopes configured, an unknown one is still refused at registration", async () => {
    const t = await serverUnderTest();
    const response = await fetch(t.url("/register"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], token_endpoint_auth_method: "none", scope: "openid email profile" }),
    });
    expect(await oauthError(response)).toMatchObject({ status: 400, error: "invalid_client_metadata" });
  });
});
