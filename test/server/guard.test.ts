import { describe, expect, it } from "vitest";
import { InMemoryOAuthProvider } from "../../src/server/index.js";
import { oauthError, serverUnderTest, tokens } from "./support.js";

describe("the MCP endpoint guard (S32, S31)", () => {
  it("no token: 401 with resource_metadata and scope in the challenge, no error code", async () => {
    const t = await serverUnderTest();
    const response = await t.mcp(undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `Bearer resource_metadata="${t.server.origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
  });

  it("an unknown token: 401 invalid_token, and the token is not echoed", async () => {
    const t = await serverUnderTest();
    const response = await t.mcp("made-up-token");
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+", scope="mcp:tools"$/);
    const body = await response.text();
    expect(body + challenge).not.toContain("made-up-token");
    expect(JSON.parse(body)).toMatchObject({ error: "invalid_token" });
  });

  it("an expired token: 401 invalid_token (injected clock, no sleep)", async () => {
    const t = await serverUnderTest({ accessTokenTtlSeconds: 60 });
    const client = await t.register();
    const issued = await tokens(await t.redeem(client, await t.login(client)));
    expect((await t.mcp(issued.access_token)).status).toBe(200);
    t.clock.now += 60_000;
    const response = await t.mcp(issued.access_token);
    expect(await oauthError(response)).toMatchObject({ status: 401, error: "invalid_token" });
  });

  it("a token without the required scope: 403 insufficient_scope naming the scope", async () => {
    const t = await serverUnderTest({ clientRegistration: { enabled: true, validScopes: ["mcp:tools", "mcp:read"] }, requiredScopes: ["mcp:tools"] });
    const client = await t.register({ scope: "mcp:read" });
    const issued = await tokens(await t.redeem(client, await t.login(client, { scope: "mcp:read" })));
    const response = await t.mcp(issued.access_token);
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer error="insufficient_scope", .*scope="mcp:tools"$/);
  });

  it("the token is read from the Authorization header only, never from the query string", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const issued = await tokens(await t.redeem(client, await t.login(client)));
    const response = await fetch(`${t.server.mcpUrl}?access_token=${issued.access_token}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
  });

  it("a non-Bearer scheme is a missing token; a malformed Bearer value is invalid_token", async () => {
    const t = await serverUnderTest();
    expect((await t.mcp(undefined, { authorization: "Basic dXNlcjpwYXNz" })).headers.get("www-authenticate")).not.toContain("error=");
    expect((await t.mcp(undefined, { authorization: "Bearer a b" })).headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("a token issued for another resource is refused, even if its store would accept it", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const issued = await tokens(await t.redeem(client, await t.login(client)));
    // Resource server B shares A's token store (the mistake S31 guards against) but serves another URL.
    const record = await t.server.provider.verifyToken(issued.access_token);
    class SharedStore extends InMemoryOAuthProvider {
      override async verifyToken() {
        return record;
      }
    }
    const b = new SharedStore({ baseUrl: "http://127.0.0.1:1", resourceBaseUrl: "http://127.0.0.1:2", requiredScopes: ["mcp:tools"] });
    const check = await b.checkAuthorization(`Bearer ${issued.access_token}`);
    expect(check.response?.status).toBe(401);
    expect(check.response?.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect((await t.server.provider.checkAuthorization(`Bearer ${issued.access_token}`)).auth?.extra.subject).toBe("user");
  });

  it("hands the caller to the MCP tools: subject, client and scopes", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const issued = await tokens(await t.redeem(client, await t.login(client)));
    const response = await fetch(t.server.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${issued.access_token}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
    });
    const text = await response.text();
    expect(text).toContain(JSON.stringify(JSON.stringify({ subject: "user", clientId: client.client_id, scopes: ["mcp:tools"] })).slice(1, -1));
  });
});

describe("the guard when the token store fails", () => {
  it("answers 503 temporarily_unavailable with Retry-After, not 401, and reports the error", async () => {
    const reported: unknown[] = [];
    class Broken extends InMemoryOAuthProvider {
      override async verifyToken(): Promise<undefined> {
        throw new Error("store down");
      }
    }
    const provider = new Broken({ baseUrl: "http://127.0.0.1:1", onError: (error) => reported.push(error) });
    const check = await provider.checkAuthorization("Bearer some-token");
    expect(check.response?.status).toBe(503);
    expect(check.response?.headers.get("retry-after")).toBe("5");
    expect(await check.response?.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect(check.response?.headers.get("www-authenticate")).toBeNull();
    expect(reported).toEqual([new Error("store down")]);
  });
});
