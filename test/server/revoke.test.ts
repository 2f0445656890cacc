import { describe, expect, it } from "vitest";
import { oauthError, serverUnderTest, tokens } from "./support.js";

describe("/revoke (RFC 7009, S30)", () => {
  async function setup() {
    const t = await serverUnderTest();
    const client = await t.register();
    const issued = await tokens(await t.redeem(client, await t.login(client)));
    const revoke = (token: string, clientId = client.client_id, hint?: string) =>
      t.post("/revoke", { token, client_id: clientId, ...(hint ? { token_type_hint: hint } : {}) });
    return { t, client, issued, revoke };
  }

  it("revoking the access token ends it, and only it", async () => {
    const { t, client, issued, revoke } = await setup();
    const response = await revoke(issued.access_token);
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect((await t.mcp(issued.access_token)).status).toBe(401);
    expect((await t.refresh(client, issued.refresh_token!)).status).toBe(200);
  });

  it("revoking the refresh token revokes the grant, its access tokens included (with or without the hint)", async () => {
    for (const hint of [undefined, "refresh_token", "access_token", "no_such_type"]) {
      const { t, client, issued, revoke } = await setup();
      expect((await revoke(issued.refresh_token!, client.client_id, hint)).status).toBe(200);
      expect((await t.mcp(issued.access_token)).status).toBe(401);
      expect(await oauthError(await t.refresh(client, issued.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    }
  });

  it("another client cannot revoke the token; it still gets 200, so the endpoint reveals nothing", async () => {
    const { t, issued, revoke } = await setup();
    const other = await t.register();
    expect((await revoke(issued.access_token, other.client_id)).status).toBe(200);
    expect((await revoke(issued.refresh_token!, other.client_id)).status).toBe(200);
    expect((await t.mcp(issued.access_token)).status).toBe(200);
  });

  it("unknown and already revoked tokens get 200; a missing token is 400; an unknown client is 401", async () => {
    const { t, issued, revoke } = await setup();
    expect((await revoke("never-issued")).status).toBe(200);
    expect((await revoke(issued.access_token)).status).toBe(200);
    expect((await revoke(issued.access_token)).status).toBe(200);
    expect(await oauthError(await t.post("/revoke", { client_id: "x" }))).toMatchObject({ status: 401, error: "invalid_client" });
    const client = await t.register();
    expect(await oauthError(await t.post("/revoke", { client_id: client.client_id }))).toMatchObject({ status: 400, error: "invalid_request" });
  });

  it("refuses a parameter sent twice even when its first value is empty (token=&token=...)", async () => {
    const { t, client, issued } = await setup();
    const twice = await fetch(t.url("/revoke"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=&token=${issued.access_token}&client_id=${client.client_id}`,
    });
    expect(await oauthError(twice)).toMatchObject({ status: 400, error: "invalid_request" });
    expect((await t.mcp(issued.access_token)).status).toBe(200);
  });
});
