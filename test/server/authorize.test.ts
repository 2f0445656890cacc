import { describe, expect, it } from "vitest";
import { REDIRECT_URI, pkce, preRegistered, serverUnderTest, type ServerUnderTest } from "./support.js";

/** A valid request for `clientId`, with overrides (undefined removes a parameter). */
function request(t: ServerUnderTest, clientId: string, overrides: Record<string, string | undefined> = {}) {
  return {
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: pkce().challenge,
    code_challenge_method: "S256",
    state: "xyz",
    resource: t.server.mcpUrl,
    ...overrides,
  };
}

async function expectErrorPage(response: Response, error: string): Promise<string> {
  expect(response.status).toBe(400);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toContain("text/html");
  expect(response.headers.get("x-frame-options")).toBe("DENY");
  expect(response.headers.get("access-control-allow-origin")).toBeNull();
  const html = await response.text();
  expect(html).toContain(`<code>${error}</code>`);
  return html;
}

function expectErrorRedirect(t: ServerUnderTest, response: Response, error: string, redirectUri = REDIRECT_URI): URL {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get("location") ?? "");
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  expect(location.searchParams.get("error")).toBe(error);
  expect(location.searchParams.get("state")).toBe("xyz");
  expect(location.searchParams.get("iss")).toBe(t.server.issuer);
  expect(location.searchParams.get("code")).toBeNull();
  return location;
}

describe("/authorize: requests that cannot be redirected get an error page (S13)", () => {
  it("missing client_id", async () => {
    const t = await serverUnderTest();
    await expectErrorPage(await t.authorize(request(t, "x", { client_id: undefined })), "invalid_request");
  });

  it("unknown client_id, escaped on the page", async () => {
    const t = await serverUnderTest();
    const html = await expectErrorPage(await t.authorize(request(t, '<script>alert(1)</script>')), "invalid_client");
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("redirect URI not registered", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    await expectErrorPage(await t.authorize(request(t, client.client_id, { redirect_uri: "https://attacker.example/callback" })), "invalid_request");
  });

  it("missing redirect URI when several are registered", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ redirect_uris: [REDIRECT_URI, "http://127.0.0.1:9/other"] });
    await expectErrorPage(await t.authorize(request(t, client.client_id, { redirect_uri: undefined })), "invalid_request");
  });

  it("a parameter sent twice", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const url = new URL(t.url("/authorize"));
    url.search = new URLSearchParams(request(t, client.client_id) as Record<string, string>).toString() + "&client_id=other";
    await expectErrorPage(await fetch(url, { redirect: "manual" }), "invalid_request");
    // An empty first value counts too: `client_id=&client_id=<id>` is a parameter sent twice.
    url.search = "client_id=&" + new URLSearchParams(request(t, client.client_id) as Record<string, string>).toString();
    await expectErrorPage(await fetch(url, { redirect: "manual" }), "invalid_request");
  });
});

describe("/authorize: exact redirect URI matching, loopback port excepted (RFC 9700 §2.1, RFC 8252 §7.3)", () => {
  const cases: [string, string, string, boolean][] = [
    ["the registered URI", "http://127.0.0.1:9/callback", "http://127.0.0.1:9/callback", true],
    ["another port on a loopback URI", "http://127.0.0.1:9/callback", "http://127.0.0.1:53117/callback", true],
    ["a port on a port-less loopback URI", "http://127.0.0.1/callback", "http://127.0.0.1:8080/callback", true],
    ["another port on [::1]", "http://[::1]:9/cb", "http://[::1]:4000/cb", true],
    ["another path on loopback", "http://127.0.0.1:9/callback", "http://127.0.0.1:9/callback/x", false],
    ["another loopback host", "http://127.0.0.1:9/callback", "http://localhost:9/callback", false],
    ["an added query", "http://127.0.0.1:9/callback", "http://127.0.0.1:9/callback?a=1", false],
    ["another port on an https URI", "https://app.example.com/cb", "https://app.example.com:8443/cb", false],
    ["a trailing slash", "https://app.example.com/cb", "https://app.example.com/cb/", false],
    ["case in the path", "https://app.example.com/cb", "https://app.example.com/CB", false],
    // S13: strings that a URL parser would make equal to the registered one are still other strings.
    ["dot segments on an https URI", "https://app.example.com/cb", "https://app.example.com/x/../cb", false],
    ["dot segments on loopback", "http://127.0.0.1:9/callback", "http://127.0.0.1:9/x/../callback", false],
    ["dot segments on another loopback port", "http://127.0.0.1:9/callback", "http://127.0.0.1:4000/./callback", false],
    ["an empty query on another loopback port", "http://127.0.0.1:9/callback", "http://127.0.0.1:4000/callback?", false],
    ["an upper-case scheme on another loopback port", "http://127.0.0.1:9/callback", "HTTP://127.0.0.1:4000/callback", false],
    ["a hex loopback host that parses to 127.0.0.1", "http://127.0.0.1:9/callback", "http://0x7f.0.0.1:4000/callback", false],
    ["a backslash that parses as a slash", "http://127.0.0.1:9/callback", "http://127.0.0.1:4000\\callback", false],
  ];
  for (const [name, registered, requested, allowed] of cases) {
    it(`${allowed ? "accepts" : "refuses"} ${name}`, async () => {
      const t = await serverUnderTest();
      const client = await t.register({ redirect_uris: [registered] });
      const response = await t.authorize(request(t, client.client_id, { redirect_uri: requested }));
      if (!allowed) return void (await expectErrorPage(response, "invalid_request"));
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get("location") ?? "");
      expect(location.href.startsWith(requested)).toBe(true);
      expect(location.searchParams.get("code")).toBeTruthy();
    });
  }

  it("accepts a missing redirect URI when exactly one is registered, and the token request must then omit it or repeat it", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const response = await t.authorize(request(t, client.client_id, { redirect_uri: undefined }));
    expect(response.status).toBe(302);
    expect(response.headers.get("location")?.startsWith(REDIRECT_URI)).toBe(true);
  });
});

describe("/authorize: errors before any user interaction are redirected only to a trusted redirect URI (RFC 9700 §4.11.2)", () => {
  const remote = "https://app.example.com/cb";

  it("a dynamically registered client with a remote redirect URI gets the error page, never a redirect", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ redirect_uris: [remote] });
    const cases: [Record<string, string | undefined>, string][] = [
      [{ response_type: "bogus" }, "unsupported_response_type"],
      [{ code_challenge: undefined }, "invalid_request"],
      [{ scope: "root" }, "invalid_scope"],
      [{ resource: "https://other.example.com/mcp" }, "invalid_target"],
    ];
    for (const [overrides, error] of cases) {
      await expectErrorPage(await t.authorize(request(t, client.client_id, { redirect_uri: remote, ...overrides })), error);
    }
    // A valid request still goes through: only errors are held back.
    expect(new URL((await t.authorize(request(t, client.client_id, { redirect_uri: remote }))).headers.get("location") ?? "").searchParams.get("code")).toBeTruthy();
  });

  it("a pre-registered client's remote redirect URI is trusted: the error is redirected with state and iss", async () => {
    const t = await serverUnderTest({ clients: [preRegistered("known", { redirect_uris: [remote] })] });
    expectErrorRedirect(t, await t.authorize(request(t, "known", { redirect_uri: remote, response_type: "bogus" })), "unsupported_response_type", remote);
  });
});

describe("/authorize: errors for a loopback redirect URI go back to the client with state and iss (S14, S15)", () => {
  const cases: [string, Record<string, string | undefined>, string][] = [
    ["a wrong response_type", { response_type: "token" }, "unsupported_response_type"],
    ["a missing response_type", { response_type: undefined }, "invalid_request"],
    ["a missing code_challenge (PKCE required)", { code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
    ["the plain PKCE method", { code_challenge_method: "plain" }, "invalid_request"],
    ["a missing code_challenge_method", { code_challenge_method: undefined }, "invalid_request"],
    ["a malformed code_challenge", { code_challenge: "short" }, "invalid_request"],
    ["an unknown scope", { scope: "mcp:tools root" }, "invalid_scope"],
    ["a resource of another server", { resource: "https://other.example.com/mcp" }, "invalid_target"],
    ["a resource with a fragment", { resource: "http://127.0.0.1/mcp#x" }, "invalid_target"],
    ["a relative resource", { resource: "/mcp" }, "invalid_target"],
  ];
  for (const [name, overrides, error] of cases) {
    it(`${name} → ${error}`, async () => {
      const t = await serverUnderTest();
      const client = await t.register();
      expectErrorRedirect(t, await t.authorize(request(t, client.client_id, overrides)), error);
    });
  }

  it("a successful response carries code, state and iss, with no-store", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const response = await t.authorize(request(t, client.client_id));
    expect(response.status).toBe(302);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.searchParams.get("iss")).toBe(t.server.issuer);
    expect(location.searchParams.get("state")).toBe("xyz");
    expect(location.searchParams.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("keeps the redirect URI's own query parameters", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ redirect_uris: ["https://app.example.com/cb?tenant=7"] });
    const response = await t.authorize(request(t, client.client_id, { redirect_uri: "https://app.example.com/cb?tenant=7" }));
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.searchParams.get("tenant")).toBe("7");
    expect(location.searchParams.get("code")).toBeTruthy();
  });

  it("a POSTed authorization request is answered with 303, not 302 or 307", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const response = await t.post("/authorize", request(t, client.client_id));
    expect(response.status).toBe(303);
    expect(new URL(response.headers.get("location") ?? "").searchParams.get("code")).toBeTruthy();
  });

  it("OPTIONS on /authorize gets no CORS preflight", async () => {
    const t = await serverUnderTest();
    const response = await fetch(t.url("/authorize"), { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("/authorize: scopes are limited to what the client registered (S17)", () => {
  it("refuses a scope the server supports but the client did not register", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ scope: "mcp:tools" });
    expectErrorRedirect(t, await t.authorize(request(t, client.client_id, { scope: "mcp:tools mcp:admin" })), "invalid_scope");
    const narrow = await t.authorize(request(t, client.client_id, { scope: "mcp:tools" }));
    expect(new URL(narrow.headers.get("location") ?? "").searchParams.get("code")).toBeTruthy();
  });

  it("with no scope asked for, grants the client's registered scope only, never the server's defaults beyond it", async () => {
    const t = await serverUnderTest({ clients: [preRegistered("admin-only", { scope: "mcp:admin" }), preRegistered("retired", { scope: "mcp:retired" })] });
    const admin = await t.redeem({ client_id: "admin-only", redirect_uris: [REDIRECT_URI] }, await t.login({ client_id: "admin-only", redirect_uris: [REDIRECT_URI] }, { scope: undefined }));
    expect(((await admin.json()) as { scope?: string }).scope).toBe("mcp:admin");
    const retired = await t.redeem({ client_id: "retired", redirect_uris: [REDIRECT_URI] }, await t.login({ client_id: "retired", redirect_uris: [REDIRECT_URI] }, { scope: undefined }));
    expect(((await retired.json()) as { scope?: string }).scope).toBeUndefined();
  });
});
