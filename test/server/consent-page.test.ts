/**
 * The consent page on its own (renderConsentPage, readCookie): where it says the answer goes for each
 * kind of redirect URI and when it warns, the form-action source the CSP allows, the cookie's attributes,
 * the page's title and headers, and reading one cookie out of a header.
 */
import { describe, expect, it } from "vitest";
import { readCookie, renderConsentPage, type ConsentView } from "../../src/server/consent-page.js";

const view = (extra: Partial<ConsentView> = {}): ConsentView => ({
  action: "/consent",
  requestId: "req",
  csrfToken: "csrf",
  clientId: "client-1",
  clientName: "Client One",
  redirectUri: "https://app.example:8443/cb",
  scopes: ["a"],
  resource: "https://mcp.example/mcp",
  subject: "alice",
  ...extra,
});

async function render(extra: Partial<ConsentView> = {}, secure = false) {
  const response = renderConsentPage(view(extra), secure);
  return { html: await response.text(), headers: response.headers };
}

const localWarning = "That is an application on your own computer: approve only if you just started it.";

describe("renderConsentPage", () => {
  it("an https: redirect URI: its host and port, no local warning; the form may go there only", async () => {
    const { html, headers } = await render();
    expect(html).toContain('<strong id="redirect-host">app.example:8443</strong>.</p>');
    expect(html).not.toContain(localWarning);
    expect(headers.get("content-security-policy")).toContain("form-action 'self' https://app.example:8443;");
    expect(html).toContain("<title>Authorize Client One?</title>");
  });

  it("a loopback http: redirect URI, and a private-use scheme, are the user's own computer", async () => {
    const loopback = await render({ redirectUri: "http://127.0.0.1:9/cb" });
    expect(loopback.html).toContain(`<strong id="redirect-host">127.0.0.1:9</strong>. ${localWarning}</p>`);
    const app = await render({ redirectUri: "com.example.app:/cb" });
    expect(app.html).toContain(`<strong id="redirect-host">com.example.app:</strong>. ${localWarning}</p>`);
    expect(app.headers.get("content-security-policy")).toContain("form-action 'self' com.example.app:;");
    expect((await render({ redirectUri: "https://127.0.0.1:9/cb" })).html).toContain(localWarning);
    // An http: host that is not loopback is not the user's computer (such a URI is refused earlier anyway).
    expect((await render({ redirectUri: "http://app.example/cb" })).html).not.toContain(localWarning);
  });

  it("a client without a name is shown by its id; a non-URL id names no document host", async () => {
    const { html } = await render({ clientName: undefined });
    expect(html).toContain('<h1>Authorize an unnamed application (client-1)?</h1>\n<p><strong id="client-name">');
    expect(html).not.toContain("client-id-host");
    expect((await render({ clientId: "https://" })).html).not.toContain("client-id-host");
  });

  it("lists each scope; a document client with an https: redirect URI gets its host line and no warning", async () => {
    expect((await render({ scopes: ["a", "b"] })).html).toContain("<ul><li><code>a</code></li><li><code>b</code></li></ul>");
    const { html } = await render({ clientId: "https://app.example/client.json" });
    expect(html).toContain('(its client ID is <code>https://app.example/client.json</code>).</p>\n<p><strong id="client-name">');
  });

  it("the cookie: per request, HttpOnly, SameSite=Strict, scoped to the form's path, Secure on https only; the referrer stays same-origin", async () => {
    const plain = await render();
    expect(plain.headers.get("set-cookie")).toBe("mcp_oauth_consent_req=csrf; Path=/consent; HttpOnly; SameSite=Strict; Max-Age=600");
    const secure = await render({}, true);
    expect(secure.headers.get("set-cookie")).toBe("mcp_oauth_consent_req=csrf; Path=/consent; HttpOnly; SameSite=Strict; Max-Age=600; Secure");
    expect(plain.headers.get("referrer-policy")).toBe("same-origin");
  });
});

describe("readCookie", () => {
  it("finds one cookie among others, keeping an = inside its value; nothing in no header", () => {
    expect(readCookie("a=1; mcp=x=y==; b=2", "mcp")).toBe("x=y==");
    expect(readCookie("a=1", "mcp")).toBeUndefined();
    expect(readCookie(null, "mcp")).toBeUndefined();
  });
});
