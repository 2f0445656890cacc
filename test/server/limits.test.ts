import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/server/index.js";
import { REDIRECT_URI, oauthError, pkce, preRegistered, serverUnderTest, tokens, type ServerUnderTest } from "./support.js";

/** An authorization request answered with the consent page (autoApprove off); returns /authorize's answer. */
function startConsent(t: ServerUnderTest, clientId: string, state = "s"): Promise<Response> {
  const { challenge } = pkce();
  return t.authorize({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state });
}

describe("InMemoryOAuthProvider stays bounded against unauthenticated requests", () => {
  it("refuses a state longer than 2048 characters on the error page, storing nothing", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const client = await t.register();
    const response = await startConsent(t, client.client_id, "s".repeat(2049));
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.text()).toContain("<code>invalid_request</code>");
    expect((await startConsent(t, client.client_id, "s".repeat(2048))).status).toBe(302);
  });

  it("keeps at most maxPendingConsents pending consents: a newcomer is refused, nobody's pending consent is evicted", async () => {
    const t = await serverUnderTest({ autoApprove: false, maxPendingConsents: 2 });
    const client = await t.register();
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) urls.push((await startConsent(t, client.client_id)).headers.get("location") ?? "");
    const refused = await startConsent(t, client.client_id);
    const location = new URL(refused.headers.get("location") ?? "");
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get("error")).toBe("temporarily_unavailable");
    expect((await fetch(urls[0]!)).status).toBe(200);
    expect((await fetch(urls[1]!)).status).toBe(200);
    // Once the pending ones expire (10 minutes), there is room again.
    t.clock.now += 601_000;
    expect(new URL((await startConsent(t, client.client_id)).headers.get("location") ?? "").pathname).toBe("/consent");
  });

  it("accepts at most maxRegisteredClients dynamic registrations; pre-registered clients do not count", async () => {
    const t = await serverUnderTest({ maxRegisteredClients: 2, clients: [preRegistered("known")] });
    await t.register();
    await t.register();
    const refused = await fetch(t.url("/register"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }) });
    expect(await oauthError(refused)).toMatchObject({ status: 403, error: "access_denied" });
  });

  it("forgets registrations that obtained no token within unusedRegistrationTtlSeconds, so a flood cannot hold the cap", async () => {
    const t = await serverUnderTest({ maxRegisteredClients: 2, unusedRegistrationTtlSeconds: 60 });
    const used = await t.register();
    const idle = await t.register();
    await tokens(await t.redeem(used, await t.login(used)));
    expect((await fetch(t.url("/register"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }) })).status).toBe(403);
    t.clock.now += 61_000;
    expect((await t.register()).client_id).toBeTruthy();
    // The idle one is gone; the one that logged in stays.
    expect(await t.server.provider.getClient(idle.client_id)).toBeUndefined();
    expect(await t.server.provider.getClient(used.client_id)).toBeDefined();
    expect((await t.login(used)).code).toBeTruthy();
  });

  it("sweeps expired records on the token path too, not only on /authorize", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const first = await tokens(await t.redeem(client, await t.login(client)));
    const unused = await t.login(client);
    expect(await t.server.provider.loadAuthorizationCode(hashToken(unused.code))).toBeDefined();
    t.clock.now += 301_000;
    expect((await t.refresh(client, first.refresh_token!)).status).toBe(200);
    expect(await t.server.provider.loadAuthorizationCode(hashToken(unused.code))).toBeUndefined();
  });
});
