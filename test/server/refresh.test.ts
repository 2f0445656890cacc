import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/server/index.js";
import { oauthError, serverUnderTest, tokens, type RegisteredForTest, type ServerUnderTest, type TokenBody } from "./support.js";

async function loggedIn(options: Parameters<typeof serverUnderTest>[0] = {}): Promise<{ t: ServerUnderTest; client: RegisteredForTest; first: TokenBody }> {
  const t = await serverUnderTest(options);
  const client = await t.register({ scope: "mcp:tools mcp:admin" });
  const first = await tokens(await t.redeem(client, await t.login(client, { scope: "mcp:tools mcp:admin" })));
  return { t, client, first };
}

describe("/token: refresh token rotation (S26)", () => {
  it("rotates on every use; the new pair works, the access token keeps its scope and resource", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!, { resource: t.server.mcpUrl }));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.scope).toBe("mcp:tools mcp:admin");
    expect((await t.mcp(second.access_token)).status).toBe(200);
    const third = await tokens(await t.refresh(client, second.refresh_token!));
    expect((await t.mcp(third.access_token)).status).toBe(200);
  });

  it("rotation revokes the previous generation's access token", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    expect((await t.mcp(first.access_token)).status).toBe(401);
    expect((await t.mcp(second.access_token)).status).toBe(200);
  });

  it("a refresh may narrow the scope, and a later one may ask for the original grant again", async () => {
    const { t, client, first } = await loggedIn();
    const narrow = await tokens(await t.refresh(client, first.refresh_token!, { scope: "mcp:tools" }));
    expect(narrow.scope).toBe("mcp:tools");
    const again = await tokens(await t.refresh(client, narrow.refresh_token!, { scope: "mcp:tools mcp:admin" }));
    expect(again.scope).toBe("mcp:tools mcp:admin");
  });

  it("refuses scope widening with invalid_scope", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const first = await tokens(await t.redeem(client, await t.login(client, { scope: "mcp:tools" })));
    expect(await oauthError(await t.refresh(client, first.refresh_token!, { scope: "mcp:tools mcp:admin" }))).toMatchObject({ status: 400, error: "invalid_scope" });
  });

  it("refuses another client's refresh token and another resource", async () => {
    const { t, client, first } = await loggedIn();
    const other = await t.register();
    expect(await oauthError(await t.refresh(other, first.refresh_token!))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect(await oauthError(await t.refresh(client, first.refresh_token!, { resource: "https://other.example.com/mcp" }))).toMatchObject({ error: "invalid_target" });
    // Neither refusal spent the token.
    expect((await t.refresh(client, first.refresh_token!)).status).toBe(200);
  });

  it("rotation never carries a grant past grantLifetimeSeconds, counted from the authorization", async () => {
    const { t, client, first } = await loggedIn({ refreshTokenTtlSeconds: 600, grantLifetimeSeconds: 1000 });
    t.clock.now += 500_000;
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 400_000;
    const third = await tokens(await t.refresh(client, second.refresh_token!));
    // 900 s into a 1000 s grant: the access token may not outlive it either.
    expect(third.expires_in).toBe(100);
    t.clock.now += 101_000;
    expect(await oauthError(await t.refresh(client, third.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    expect((await t.mcp(third.access_token)).status).toBe(401);
  });

  it("with the defaults, a grant ends 30 days after the authorization however often it is refreshed", async () => {
    const { t, client, first } = await loggedIn();
    const day = 86_400_000;
    t.clock.now += 20 * day;
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 10 * day;
    expect(await oauthError(await t.refresh(client, second.refresh_token!))).toMatchObject({ error: "invalid_grant" });
  });

  it("refuses an expired refresh token", async () => {
    const { t, client, first } = await loggedIn({ refreshTokenTtlSeconds: 600 });
    t.clock.now += 601_000;
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ error: "invalid_grant" });
  });
});

describe("/token: the grace window and reuse detection (S27)", () => {
  it("a retry with the immediately previous refresh token inside the window gets the same successor", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 10_000;
    const retry = await tokens(await t.refresh(client, first.refresh_token!));
    expect(retry.refresh_token).toBe(second.refresh_token);
    expect(retry.access_token).toBe(second.access_token);
    expect(retry.expires_in).toBe(3590);
    // Nothing was revoked: the successor chain goes on.
    expect((await t.mcp(second.access_token)).status).toBe(200);
    expect((await t.refresh(client, second.refresh_token!)).status).toBe(200);
  });

  it("once the window is over, the store no longer holds the sealed successor of the old token", async () => {
    const { t, client, first } = await loggedIn();
    await tokens(await t.refresh(client, first.refresh_token!));
    const id = hashToken(first.refresh_token!);
    expect((await t.server.provider.loadRefreshToken(id))?.successor).toBeTypeOf("string");
    t.clock.now += 30_000;
    const rotated = await t.server.provider.loadRefreshToken(id);
    expect(rotated?.rotatedAt).toBeTypeOf("number");
    expect(rotated?.successor).toBeUndefined();
  });

  it("a retry inside the window whose access token was revoked meanwhile is reuse: nothing revoked is handed out again", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    expect((await t.post("/revoke", { client_id: client.client_id, token: second.access_token })).status).toBe(200);
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    expect(await oauthError(await t.refresh(client, second.refresh_token!))).toMatchObject({ error: "invalid_grant" });
  });

  it("a retry inside the window after the access token simply expired still gets the same successor", async () => {
    const { t, client, first } = await loggedIn({ accessTokenTtlSeconds: 10 });
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 15_000;
    const retry = await tokens(await t.refresh(client, first.refresh_token!));
    expect(retry).toMatchObject({ refresh_token: second.refresh_token, expires_in: 0 });
    expect((await t.refresh(client, second.refresh_token!)).status).toBe(200);
  });

  it("two concurrent refreshes with one token both succeed, with the same successor", async () => {
    const { t, client, first } = await loggedIn();
    const [a, b] = await Promise.all([t.refresh(client, first.refresh_token!), t.refresh(client, first.refresh_token!)]);
    const [ta, tb] = [await tokens(a), await tokens(b)];
    expect(ta.refresh_token).toBe(tb.refresh_token);
    expect((await t.refresh(client, ta.refresh_token!)).status).toBe(200);
  });

  it("reuse after the window revokes the whole family, the live tokens included", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 31_000;
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect((await t.mcp(second.access_token)).status).toBe(401);
    expect(await oauthError(await t.refresh(client, second.refresh_token!))).toMatchObject({ error: "invalid_grant" });
  });

  it("an older generation inside the window revokes the family too (only the immediately previous token is forgiven)", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    const third = await tokens(await t.refresh(client, second.refresh_token!));
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    expect((await t.mcp(third.access_token)).status).toBe(401);
    expect((await t.refresh(client, third.refresh_token!)).status).toBe(400);
  });

  it("an older generation inside the window is reuse even when access tokens live shorter than the window", async () => {
    // The sealed successor's access token has merely expired, which alone would pass for a lost response.
    const { t, client, first } = await loggedIn({ accessTokenTtlSeconds: 5 });
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 1_000;
    const third = await tokens(await t.refresh(client, second.refresh_token!));
    t.clock.now += 6_000;
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    expect(await oauthError(await t.refresh(client, third.refresh_token!))).toMatchObject({ error: "invalid_grant" });
  });

  it("a retry inside the window with different parameters is treated as reuse", async () => {
    const { t, client, first } = await loggedIn();
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    expect(await oauthError(await t.refresh(client, first.refresh_token!, { scope: "mcp:tools" }))).toMatchObject({ error: "invalid_grant" });
    expect((await t.mcp(second.access_token)).status).toBe(401);
  });

  it("with the window set to 0, of two concurrent refreshes in the same millisecond exactly one succeeds", async () => {
    const { t, client, first } = await loggedIn({ refreshTokenGraceSeconds: 0 });
    const responses = await Promise.all([t.refresh(client, first.refresh_token!), t.refresh(client, first.refresh_token!)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
    // The loser was a reuse: the family is gone, the winner's tokens included.
    const winner = await tokens(responses.find((r) => r.status === 200)!);
    expect((await t.mcp(winner.access_token)).status).toBe(401);
  });

  it("with the window set to 0, any reuse revokes the family", async () => {
    const { t, client, first } = await loggedIn({ refreshTokenGraceSeconds: 0 });
    const second = await tokens(await t.refresh(client, first.refresh_token!));
    t.clock.now += 1;
    expect(await oauthError(await t.refresh(client, first.refresh_token!))).toMatchObject({ error: "invalid_grant" });
    expect((await t.mcp(second.access_token)).status).toBe(401);
  });
});
