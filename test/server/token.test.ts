import { describe, expect, it } from "vitest";
import { REDIRECT_URI, oauthError, pkce, preRegistered, serverUnderTest, tokens } from "./support.js";

describe("/token: the authorization_code grant", () => {
  it("issues a bearer token bound to the scope, with no-store, JSON and CORS headers (S25)", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const response = await t.redeem(client, await t.login(client));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("pragma")).toBe("no-cache");
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const body = await tokens(response);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "mcp:tools" });
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await t.mcp(body.access_token)).status).toBe(200);
  });

  const refused: [string, (ctx: { verifier: string; otherClient: string }) => Record<string, string | undefined>, number, string][] = [
    ["a wrong code_verifier", () => ({ code_verifier: pkce().verifier }), 400, "invalid_grant"],
    ["a missing code_verifier", () => ({ code_verifier: undefined }), 400, "invalid_request"],
    ["a malformed code_verifier", () => ({ code_verifier: "short" }), 400, "invalid_grant"],
    ["another client's client_id", ({ otherClient }) => ({ client_id: otherClient }), 400, "invalid_grant"],
    ["an unknown client_id", () => ({ client_id: "nobody" }), 401, "invalid_client"],
    ["a different redirect_uri", () => ({ redirect_uri: "http://127.0.0.1:9/other" }), 400, "invalid_grant"],
    ["no redirect_uri though the request had one", () => ({ redirect_uri: undefined }), 400, "invalid_request"],
    ["a resource the code was not issued for", () => ({ resource: "https://other.example.com/mcp" }), 400, "invalid_target"],
    ["an unknown code", () => ({ code: "not-a-code" }), 400, "invalid_grant"],
    ["an unsupported grant type", () => ({ grant_type: "password" }), 400, "unsupported_grant_type"],
    ["the implicit-era client_credentials grant", () => ({ grant_type: "client_credentials" }), 400, "unsupported_grant_type"],
  ];
  for (const [name, extra, status, error] of refused) {
    it(`refuses ${name}: ${status} ${error}`, async () => {
      const t = await serverUnderTest();
      const client = await t.register();
      const other = await t.register();
      const login = await t.login(client);
      const response = await t.redeem(client, login, extra({ verifier: login.verifier, otherClient: other.client_id }));
      expect(await oauthError(response)).toMatchObject({ status, error });
      expect(response.headers.get("cache-control")).toBe("no-store");
      // The code is still good for the rightful client: a refused request does not burn it.
      if (error !== "unsupported_grant_type") expect((await t.redeem(client, login)).status).toBe(200);
    });
  }

  it("answers 401 invalid_client with WWW-Authenticate when client authentication fails", async () => {
    const t = await serverUnderTest();
    const response = await t.post("/token", { grant_type: "authorization_code", code: "x", code_verifier: pkce().verifier }, { authorization: `Basic ${Buffer.from("nobody:secret").toString("base64")}` });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect((await oauthError(response)).error).toBe("invalid_client");
  });

  it("refuses an expired code (codes live 300 s by default)", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const login = await t.login(client);
    t.clock.now += 301_000;
    expect(await oauthError(await t.redeem(client, login))).toMatchObject({ status: 400, error: "invalid_grant" });
  });

  it("refuses a reused code and revokes the tokens issued from it (S21)", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const login = await t.login(client);
    const first = await tokens(await t.redeem(client, login));
    expect((await t.mcp(first.access_token)).status).toBe(200);
    expect(await oauthError(await t.redeem(client, login))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect((await t.mcp(first.access_token)).status).toBe(401);
    expect(await oauthError(await t.refresh(client, first.refresh_token ?? ""))).toMatchObject({ error: "invalid_grant" });
  });

  it("a spent code replayed without the PKCE verifier or the redirect URI is refused but revokes nothing", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const login = await t.login(client);
    const first = await tokens(await t.redeem(client, login));
    // Whoever saw the code in a log or a Referer has neither the verifier nor, necessarily, the redirect URI.
    expect(await oauthError(await t.redeem(client, login, { code_verifier: pkce().verifier }))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect(await oauthError(await t.redeem(client, login, { redirect_uri: undefined }))).toMatchObject({ status: 400, error: "invalid_request" });
    expect(await oauthError(await t.redeem(client, login, { redirect_uri: "http://127.0.0.1:9/other" }))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect((await t.mcp(first.access_token)).status).toBe(200);
    expect((await t.refresh(client, first.refresh_token ?? "")).status).toBe(200);
  });

  it("two concurrent redemptions of one code: exactly one succeeds (atomic consume)", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    for (let round = 0; round < 5; round++) {
      const login = await t.login(client);
      const responses = await Promise.all([t.redeem(client, login), t.redeem(client, login)]);
      expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
      const loser = responses.find((r) => r.status === 400);
      expect((await oauthError(loser!)).error).toBe("invalid_grant");
    }
  });

  it("a client that registered without refresh_token gets no refresh token and cannot use the grant", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ grant_types: ["authorization_code"] });
    const body = await tokens(await t.redeem(client, await t.login(client)));
    expect(body.refresh_token).toBeUndefined();
    expect(await oauthError(await t.refresh(client, "anything"))).toMatchObject({ error: "unauthorized_client" });
  });

  it("refuses a parameter sent twice and a non-form body", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const login = await t.login(client);
    const twice = await fetch(t.url("/token"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=authorization_code&client_id=${client.client_id}&code=${login.code}&code=${login.code}&code_verifier=${login.verifier}&redirect_uri=${encodeURIComponent(login.redirectUri)}`,
    });
    expect(await oauthError(twice)).toMatchObject({ status: 400, error: "invalid_request" });
    // An empty first value counts too (it used to be dropped before the count).
    const emptyFirst = await fetch(t.url("/token"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=authorization_code&client_id=${client.client_id}&code=&code=${login.code}&code_verifier=${login.verifier}&redirect_uri=${encodeURIComponent(login.redirectUri)}`,
    });
    expect(await oauthError(emptyFirst)).toMatchObject({ status: 400, error: "invalid_request" });
    // Neither request consumed the code.
    expect((await t.redeem(client, login)).status).toBe(200);
    const asJson = await fetch(t.url("/token"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "authorization_code" }) });
    expect(await oauthError(asJson)).toMatchObject({ status: 400, error: "invalid_request" });
  });
});

describe("/token: confidential clients", () => {
  async function confidential(method: "client_secret_basic" | "client_secret_post", expiry?: number) {
    const t = await serverUnderTest({ clientRegistration: { enabled: true, validScopes: ["mcp:tools"], ...(expiry ? { clientSecretExpirySeconds: expiry } : {}) } });
    const client = await t.register({ token_endpoint_auth_method: method });
    return { t, client, secret: client.client_secret ?? "" };
  }
  const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}` });

  it("client_secret_basic: the right secret works, a wrong one is 401 invalid_client", async () => {
    const { t, client, secret } = await confidential("client_secret_basic");
    const login = await t.login(client);
    const wrong = await t.post("/token", { grant_type: "authorization_code", code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI }, basic(client.client_id, `${secret}x`));
    expect(await oauthError(wrong)).toMatchObject({ status: 401, error: "invalid_client" });
    const right = await t.post("/token", { grant_type: "authorization_code", code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI }, basic(client.client_id, secret));
    expect(right.status).toBe(200);
  });

  it("client_secret_post: a missing secret, or the secret sent by another method, is 401 invalid_client", async () => {
    const { t, client, secret } = await confidential("client_secret_post");
    const login = await t.login(client);
    const form = { grant_type: "authorization_code", code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI };
    expect((await oauthError(await t.post("/token", { ...form, client_id: client.client_id }))).error).toBe("invalid_client");
    expect((await oauthError(await t.post("/token", form, basic(client.client_id, secret)))).error).toBe("invalid_client");
    expect((await t.post("/token", { ...form, client_id: client.client_id, client_secret: secret })).status).toBe(200);
  });

  it("an expired client secret no longer authenticates (RFC 7591 client_secret_expires_at)", async () => {
    const { t, client, secret } = await confidential("client_secret_post", 60);
    const login = await t.login(client);
    t.clock.now += 61_000;
    const response = await t.post("/token", { grant_type: "authorization_code", client_id: client.client_id, client_secret: secret, code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI });
    expect(await oauthError(response)).toMatchObject({ status: 401, error: "invalid_client" });
  });

  it("a public client that sends a secret is refused", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const login = await t.login(client);
    expect((await oauthError(await t.redeem(client, login, { client_secret: "guess" }))).error).toBe("invalid_client");
  });
});

describe("/token when the provider's storage fails", () => {
  it("answers 500 server_error without internals, and reports the error through onError", async () => {
    const { InMemoryOAuthProvider } = await import("../../src/server/index.js");
    const reported: unknown[] = [];
    class Broken extends InMemoryOAuthProvider {
      override async getClient(): Promise<undefined> {
        throw new Error("connection refused: db.internal:5432");
      }
    }
    const provider = new Broken({ baseUrl: "http://127.0.0.1:1", onError: (error) => reported.push(error) });
    const response = await provider.handle(
      new Request("http://127.0.0.1:1/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=refresh_token&client_id=c&refresh_token=r" }),
    );
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ error: "server_error" });
    expect(body).not.toContain("db.internal");
    expect(reported).toHaveLength(1);
  });
});

describe("pre-registered clients (InMemoryOAuthProvider `clients`)", () => {
  it("a confidential pre-registered client authenticates with the secret whose hash was configured", async () => {
    const { hashToken } = await import("../../src/server/index.js");
    const client = preRegistered("static-client", { token_endpoint_auth_method: "client_secret_post", grant_types: ["authorization_code", "refresh_token"], client_secret_hash: hashToken("s3cret") });
    const t = await serverUnderTest({ clients: [client] });
    const login = await t.login({ client_id: "static-client", redirect_uris: [REDIRECT_URI] });
    const form = { grant_type: "authorization_code", client_id: "static-client", code: login.code, code_verifier: login.verifier, redirect_uri: REDIRECT_URI };
    expect((await oauthError(await t.post("/token", { ...form, client_secret: "wrong" }))).error).toBe("invalid_client");
    expect((await t.post("/token", { ...form, client_secret: "s3cret" })).status).toBe(200);
  });

  it("a pre-registered confidential client without a secret hash is refused at construction", async () => {
    const { InMemoryOAuthProvider } = await import("../../src/server/index.js");
    const client = preRegistered("c", { token_endpoint_auth_method: "client_secret_basic" });
    expect(() => new InMemoryOAuthProvider({ baseUrl: "http://127.0.0.1:1", clients: [client] })).toThrow(/`clients.0`/);
  });
});
