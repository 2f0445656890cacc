import { describe, expect, it } from "vitest";
import { REDIRECT_URI, loadConsentPage, pkce, serverUnderTest, type ServerUnderTest } from "./support.js";

/** Starts an authorization with the consent page on (the default), returning the consent URL. */
async function startConsent(t: ServerUnderTest, clientMetadata: Record<string, unknown> = {}, redirectUri = REDIRECT_URI): Promise<string> {
  const client = await t.register({ scope: "mcp:tools mcp:admin", ...clientMetadata });
  const response = await t.authorize({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: redirectUri,
    code_challenge: pkce().challenge,
    code_challenge_method: "S256",
    state: "s",
    scope: "mcp:tools mcp:admin",
  });
  expect(response.status).toBe(302);
  return response.headers.get("location") ?? "";
}

function submit(consentUrl: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(new URL("/consent", consentUrl), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

describe("the consent page of InMemoryOAuthProvider (S18, S19, S20, S8)", () => {
  it("a first-time client is shown the consent page, not approved silently", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const consentUrl = await startConsent(t);
    expect(new URL(consentUrl).pathname).toBe("/consent");
    expect(new URL(consentUrl).origin).toBe(t.server.origin);
  });

  it("shows the escaped client name, the redirect host, the scopes and the resource, and cannot be framed", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const consentUrl = await startConsent(t, { client_name: '<img src=x onerror="alert(1)">Evil & Co' });
    const { page, html, cookie } = await loadConsentPage(consentUrl);
    expect(page.status).toBe(200);
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Evil &amp; Co");
    expect(html).not.toContain("<img");
    expect(html).toContain('<strong id="redirect-host">127.0.0.1:9</strong>');
    expect(html).toContain("<code>mcp:tools</code>");
    expect(html).toContain("<code>mcp:admin</code>");
    expect(html).toContain(t.server.mcpUrl);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self' http://127.0.0.1:9;");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.getSetCookie()[0]).toMatch(/^mcp_oauth_consent_[A-Za-z0-9_-]{43}=[A-Za-z0-9_-]{43}; Path=\/consent; HttpOnly; SameSite=Strict/);
    expect(cookie).toMatch(/^mcp_oauth_consent_/);
  });

  it("says what an empty scope means rather than promising no permissions", async () => {
    const t = await serverUnderTest({ autoApprove: false, clientRegistration: { enabled: true }, requiredScopes: [] });
    const client = await t.register();
    const response = await t.authorize({ response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT_URI, code_challenge: pkce().challenge, code_challenge_method: "S256" });
    const { html } = await loadConsentPage(response.headers.get("location") ?? "");
    expect(html).not.toContain("No specific permissions");
    expect(html).toContain("no particular scope");
  });

  it("approving answers 303 to the client with code, state and iss", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const consentUrl = await startConsent(t);
    const c = await loadConsentPage(consentUrl);
    const response = await submit(consentUrl, { request: c.request, csrf: c.csrf, decision: "approve" }, { cookie: c.cookie, origin: t.server.origin });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get("code")).toBeTruthy();
    expect(location.searchParams.get("state")).toBe("s");
    expect(location.searchParams.get("iss")).toBe(t.server.issuer);
  });

  it("denying answers 303 with access_denied, state and iss, even to a remote redirect URI (the user saw where it goes)", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const remote = "https://app.example.com/cb";
    const consentUrl = await startConsent(t, { redirect_uris: [remote] }, remote);
    const c = await loadConsentPage(consentUrl);
    const response = await submit(consentUrl, { request: c.request, csrf: c.csrf, decision: "deny" }, { cookie: c.cookie });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get("location") ?? "");
    expect(`${location.origin}${location.pathname}`).toBe(remote);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("s");
    expect(location.searchParams.get("iss")).toBe(t.server.issuer);
  });

  const forged: [string, (c: Awaited<ReturnType<typeof loadConsentPage>>, origin: string) => [Record<string, string>, Record<string, string>]][] = [
    ["without the CSRF token", (c) => [{ request: c.request, decision: "approve" }, { cookie: c.cookie }]],
    ["without the cookie (another browser)", (c) => [{ request: c.request, csrf: c.csrf, decision: "approve" }, {}]],
    ["with a cookie that does not match", (c) => [{ request: c.request, csrf: c.csrf, decision: "approve" }, { cookie: `mcp_oauth_consent_${c.request}=forged` }]],
    ["from another origin", (c) => [{ request: c.request, csrf: c.csrf, decision: "approve" }, { cookie: c.cookie, origin: "https://evil.example" }]],
    ["for another request id", (c) => [{ request: "x", csrf: c.csrf, decision: "approve" }, { cookie: c.cookie }]],
  ];
  for (const [name, build] of forged) {
    it(`refuses a post ${name}`, async () => {
      const t = await serverUnderTest({ autoApprove: false });
      const consentUrl = await startConsent(t);
      const c = await loadConsentPage(consentUrl);
      const [fields, headers] = build(c, t.server.origin);
      const response = await submit(consentUrl, fields, headers);
      expect(response.status).toBe(403);
      expect(response.headers.get("location")).toBeNull();
      // The genuine form still works afterwards.
      expect((await submit(consentUrl, { request: c.request, csrf: c.csrf, decision: "approve" }, { cookie: c.cookie })).status).toBe(303);
    });
  }

  it("two consent pages open in two tabs can both be approved: each pending consent has its own binding", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const first = await loadConsentPage(await startConsent(t));
    const secondUrl = await startConsent(t);
    const second = await loadConsentPage(secondUrl);
    expect(first.cookie.split("=")[0]).not.toBe(second.cookie.split("=")[0]);
    // The browser sends every cookie it holds for the path.
    const jar = `${first.cookie}; ${second.cookie}`;
    const approveFirst = await submit(secondUrl, { request: first.request, csrf: first.csrf, decision: "approve" }, { cookie: jar, origin: t.server.origin });
    expect(approveFirst.status).toBe(303);
    expect(new URL(approveFirst.headers.get("location") ?? "").searchParams.get("code")).toBeTruthy();
    const approveSecond = await submit(secondUrl, { request: second.request, csrf: second.csrf, decision: "approve" }, { cookie: jar, origin: t.server.origin });
    expect(approveSecond.status).toBe(303);
    // One tab's token does not pass for the other's request.
    const third = await loadConsentPage(await startConsent(t));
    const crossed = await submit(secondUrl, { request: third.request, csrf: first.csrf, decision: "approve" }, { cookie: `${third.cookie.split("=")[0]}=${first.csrf}`, origin: t.server.origin });
    expect(crossed.status).toBe(403);
  });

  it("a redirect URI on an IPv6 literal gets a form-action source browsers accept (CSP host-source has no IPv6 literals)", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const redirect = "http://[::1]:9/callback";
    const { page } = await loadConsentPage(await startConsent(t, { redirect_uris: [redirect] }, redirect));
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("form-action 'self' http:;");
    expect(csp).not.toContain("[::1]");
  });

  it("a form can be submitted once; the second post is refused", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const consentUrl = await startConsent(t);
    const c = await loadConsentPage(consentUrl);
    const fields = { request: c.request, csrf: c.csrf, decision: "approve" };
    expect((await submit(consentUrl, fields, { cookie: c.cookie })).status).toBe(303);
    expect((await submit(consentUrl, fields, { cookie: c.cookie })).status).toBe(403);
  });

  it("a consent request expires after 10 minutes", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const consentUrl = await startConsent(t);
    t.clock.now += 601_000;
    expect((await fetch(consentUrl)).status).toBe(400);
  });

  it("a user who is not signed in gets 401 instead of the form", async () => {
    const t = await serverUnderTest({ autoApprove: false, authenticateUser: (request) => (request.headers.get("cookie")?.includes("session=alice") ? "alice" : undefined) });
    const consentUrl = await startConsent(t);
    expect((await fetch(consentUrl)).status).toBe(401);
    const signedIn = await fetch(consentUrl, { headers: { cookie: "session=alice" } });
    expect(signedIn.status).toBe(200);
    expect(await signedIn.text()).toContain("<strong>alice</strong>");
  });
});
