import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError, type OAuthErrorCode } from "../src/index.js";
import { listenForCallback } from "../src/flow/listen-for-callback.js";
import { OAuthError } from "../src/shared/errors.js";
import { harness, rpc, type Harness } from "./support/harness.js";
import { followRedirects, neverOpens } from "./support/openers.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

/** A browser that lands on the callback with parameters of the attacker's choosing. */
function hostileBrowser(params: (authorization: URL) => Record<string, string>) {
  const pages: Response[] = [];
  return {
    pages,
    open: async (url: string) => {
      const authorization = new URL(url);
      const callback = new URL(authorization.searchParams.get("redirect_uri") ?? "");
      for (const [key, value] of Object.entries(params(authorization))) callback.searchParams.set(key, value);
      pages.push(await fetch(callback));
    },
  };
}

async function failure(h: Harness): Promise<OAuthError> {
  const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`);
  return error;
}

describe("the authorization response at the loopback callback", () => {
  const cases: [string, (a: URL, issuer: string) => Record<string, string>, OAuthErrorCode][] = [
    ["a wrong iss", (a) => ({ code: "c", state: a.searchParams.get("state") ?? "", iss: "http://127.0.0.1:1/" }), "issuer_response_mismatch"],
    ["a missing iss from a server that promises it", (a) => ({ code: "c", state: a.searchParams.get("state") ?? "" }), "issuer_response_mismatch"],
    // Implicit-flow injection: tokens in the query of a response to a code request.
    ["an access_token with the right state and iss", (a, iss) => ({ access_token: "injected", token_type: "Bearer", state: a.searchParams.get("state") ?? "", iss }), "authorization_failed"],
    ["an access_token alongside a code", (a, iss) => ({ code: "c", access_token: "injected", state: a.searchParams.get("state") ?? "", iss }), "authorization_failed"],
  ];
  for (const [name, params, code] of cases) {
    it(`rejects ${name} before using the code`, async () => {
      let issuer = "";
      const browser = hostileBrowser((a) => params(a, issuer));
      h = await harness({}, { openBrowser: browser.open });
      issuer = h.server.issuer;
      expect((await failure(h)).code).toBe(code);
      expect(h.server.count("/token")).toBe(0);
      expect(browser.pages[0]?.status).toBe(400);
    });
  }

  const strays: [string, (issuer: string) => Record<string, string>][] = [
    ["a wrong state", (iss) => ({ code: "stolen", state: "not-the-state", iss })],
    ["no state", (iss) => ({ code: "stolen", iss })],
    ["an error and a wrong state", (iss) => ({ error: "access_denied", state: "x", iss })],
    ["nothing at all", () => ({})],
  ];
  for (const [name, params] of strays) {
    it(`answers a stray callback with ${name} with 400 and goes on waiting for the real one`, async () => {
      const real = followRedirects();
      const strayPages: Response[] = [];
      let issuer = "";
      h = await harness({}, {
        openBrowser: async (url) => {
          // Someone on this machine reaches the callback port first, then the user's browser comes back.
          const callback = new URL(new URL(url).searchParams.get("redirect_uri") ?? "");
          for (const [key, value] of Object.entries(params(issuer))) callback.searchParams.set(key, value);
          strayPages.push(await fetch(callback), await fetch(callback));
          await real.open(url);
        },
      });
      issuer = h.server.issuer;
      const response = await h.oauth.fetch(h.server.mcpUrl, rpc());
      expect(response.status).toBe(200);
      expect(strayPages.map((page) => page.status)).toEqual([400, 400]);
      expect(await strayPages[0]!.text()).toContain("does not belong");
      expect(h.server.count("/token")).toBe(1);
      expect(h.server.requests.find((r) => r.path === "/token")?.form.code).not.toBe("stolen");
    });
  }

  it("a stray callback alone never ends the login: it waits until its timeout, and no code is redeemed", async () => {
    const browser = hostileBrowser((a) => ({ code: "stolen", state: `${a.searchParams.get("state") ?? ""}x` }));
    h = await harness({}, { openBrowser: browser.open, callbackTimeoutMs: 500 });
    const error = await failure(h);
    expect(error.code).toBe("callback_timeout");
    expect(browser.pages[0]?.status).toBe(400);
    expect(h.server.count("/token")).toBe(0);
  });

  it("does not show error fields of a response from another issuer", async () => {
    const browser = hostileBrowser((a) => ({ error: "access_denied", error_description: "PHISHING-TEXT", state: a.searchParams.get("state") ?? "", iss: "http://evil.test/" }));
    h = await harness({}, { openBrowser: browser.open });
    const error = await failure(h);
    expect(error.code).toBe("issuer_response_mismatch");
    expect(error.message).not.toContain("PHISHING-TEXT");
    expect(await browser.pages[0]?.text()).not.toContain("PHISHING-TEXT");
  });

  it("reports error=access_denied from the real server as access_denied, with the page escaping its description", async () => {
    h = await harness({ faults: { authorizeError: { error: "access_denied", error_description: '<script>alert("x")</script> & <b>no</b>' } } });
    const error = await failure(h);
    expect(error.code).toBe("access_denied");
    expect(error.oauthError).toBe("access_denied");
    await expect.poll(() => h!.browser.pages.length).toBe(1);
    const page = h.browser.pages[0]!;
    expect(page.status).toBe(400);
    const html = await page.text();
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;no&lt;/b&gt;");
    expect(html).not.toContain("<script>");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("times out when the browser never comes back, and closes the port", async () => {
    const browser = neverOpens();
    h = await harness({}, { openBrowser: browser.open, callbackTimeoutMs: 300 });
    const error = await failure(h);
    expect(error.code).toBe("callback_timeout");
    const redirect = new URL(new URL(browser.opened[0] ?? "").searchParams.get("redirect_uri") ?? "");
    await expect(fetch(redirect)).rejects.toThrow();
  });
});

describe("listenForCallback", () => {
  it("listens on 127.0.0.1 only, answers other paths with 404 without ending the flow, and ignores a second callback", async () => {
    const seen: string[] = [];
    const listener = await listenForCallback({
      port: 0,
      timeoutMs: 5_000,
      belongs: (url) => url.searchParams.get("state") === "s",
      handle: async (url) => {
        seen.push(url.searchParams.get("code") ?? "");
        return url.searchParams.get("code");
      },
    });
    expect(listener.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const favicon = await fetch(new URL("/favicon.ico", listener.redirectUri));
    expect(favicon.status).toBe(404);
    const post = await fetch(listener.redirectUri, { method: "POST" });
    expect(post.status).toBe(405);

    const stray = await fetch(`${listener.redirectUri}?code=stray&state=t`);
    expect(stray.status).toBe(400);
    const [first, second] = await Promise.all([
      fetch(`${listener.redirectUri}?code=good&state=s`),
      fetch(`${listener.redirectUri}?code=evil&state=s`).catch((error: unknown) => error),
    ]);
    expect(first.status).toBe(200);
    expect(await listener.result).toBe("good");
    expect(seen).toEqual(["good"]);
    if (second instanceof Response) expect(second.status).toBe(400);
    await listener.close();
    await expect(fetch(`${listener.redirectUri}?code=late&state=s`)).rejects.toThrow();
  });

  it("refuses to start on a port that is taken, with a typed error", async () => {
    const first = await listenForCallback({ port: 0, timeoutMs: 5_000, belongs: () => true, handle: async () => 1 });
    const error = await listenForCallback({ port: first.port, timeoutMs: 5_000, belongs: () => true, handle: async () => 1 }).catch((e: unknown) => e);
    expect(isOAuthError(error, "callback_failed")).toBe(true);
    await first.close();
  });

  it("is aborted by the signal", async () => {
    const controller = new AbortController();
    const listener = await listenForCallback({ port: 0, timeoutMs: 5_000, signal: controller.signal, belongs: () => true, handle: async () => 1 });
    controller.abort();
    await expect(listener.result).rejects.toMatchObject({ code: "aborted" });
  });
});
