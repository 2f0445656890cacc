import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Keyv from "keyv";
import type { Browser } from "playwright-core";
import { chromiumAvailable, chromiumPath, launchChromium } from "../support/chromium.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "../../src/client.js";
import { OAuth } from "../../src/index.js";
import { listenLocal } from "../support/local-server.js";
import { captureLogger } from "../support/openers.js";
import { closeLater, pkce, serverUnderTest } from "./support.js";

/**
 * The consent page in Debian's Chromium, headless: the user reads it, clicks Approve, and the browser
 * follows the 303 to the client's loopback callback (the CSP's form-action must allow exactly that).
 */

let browser: Browser | undefined;
beforeAll(async () => {
  if (!chromiumAvailable) return;
  browser = await launchChromium();
});
afterAll(async () => browser?.close());

const hostileName = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>Evil';

describe.skipIf(!chromiumAvailable)(`the consent page in a real browser (${chromiumPath}${chromiumAvailable ? "" : " is not installed: apt-get install -y chromium"})`, () => {
  it("our OAuth client logs in through the consent page: Approve, 303, loopback callback", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const seen: { title: string; clientName: string; host: string; images: number; scripts: number; final: string }[] = [];
    const done: Promise<void>[] = [];
    const openBrowser = async (url: string) => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      done.push(
        (async () => {
          await page.goto(url);
          const clientName = await page.locator("#client-name").innerText();
          const host = await page.locator("#redirect-host").innerText();
          const [images, scripts, title] = [await page.locator("img").count(), await page.locator("script").count(), await page.title()];
          await Promise.all([page.waitForURL(/\/callback\?/), page.locator("#approve").click()]);
          seen.push({ title, clientName, host, images, scripts, final: await page.locator("body").innerText() });
          await context.close();
        })(),
      );
    };
    const oauth = new OAuth({ mcpUrl: t.server.mcpUrl, tokenStorage: new Keyv(), openBrowser, clientName: hostileName, logger: captureLogger(), callbackTimeoutMs: 20_000 });
    const client = new Client(t.server.mcpUrl, { auth: oauth });
    await client.connect();
    expect(await client.callTool("add", { a: 1, b: 2 })).toMatchObject({ content: [{ type: "text", text: "3" }] });
    await client.close();
    await Promise.all(done);

    expect(seen).toHaveLength(1);
    expect(seen[0]?.clientName).toBe(hostileName);
    expect(seen[0]?.title).not.toBe("pwned");
    expect(seen[0]?.images).toBe(0);
    expect(seen[0]?.scripts).toBe(0);
    expect(seen[0]?.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(seen[0]?.final).toContain("Authorization complete");
  });

  it("refuses to render inside a frame on another site", async () => {
    const t = await serverUnderTest({ autoApprove: false });
    const client = await t.register();
    const authorize = await t.authorize({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: "http://127.0.0.1:9/callback",
      code_challenge: pkce().challenge,
      code_challenge_method: "S256",
    });
    const consentUrl = authorize.headers.get("location") ?? "";
    const attacker = await listenLocal((_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end(`<iframe id="f" src="${consentUrl}"></iframe>`));
    closeLater(attacker.close);

    const context = await browser!.newContext();
    const page = await context.newPage();
    const consentLoaded = page.waitForResponse((response) => response.url() === consentUrl);
    await page.goto(`${attacker.origin}/`);
    expect((await consentLoaded).status()).toBe(200);
    await page.waitForTimeout(200);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    expect(await frame!.locator("#approve").count()).toBe(0);
    await context.close();
  });

  // CSP host-source has no IPv6 literals: `form-action http://[::1]:port` is dropped by Chromium, which
  // then blocks the 303 after Approve. Each kind of loopback redirect URI must get its code.
  for (const [label, host, listenOn] of [
    ["127.0.0.1", "127.0.0.1", "127.0.0.1"],
    ["localhost", "localhost", "127.0.0.1"],
    ["[::1]", "[::1]", "::1"],
  ] as const) {
    it(`Approve reaches a redirect URI on ${label}`, async () => {
      const received: string[] = [];
      const callback = createServer((req, res) => {
        if (req.url?.startsWith("/callback")) received.push(req.url);
        res.writeHead(200, { "content-type": "text/plain" }).end("callback received");
      });
      await new Promise<void>((resolve) => callback.listen(0, listenOn, resolve));
      closeLater(() => new Promise((resolve) => callback.close(resolve)));
      const redirectUri = `http://${host}:${(callback.address() as AddressInfo).port}/callback`;

      const t = await serverUnderTest({ autoApprove: false });
      const client = await t.register({ redirect_uris: [redirectUri] });
      const url = new URL(t.url("/authorize"));
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: redirectUri,
        code_challenge: pkce().challenge,
        code_challenge_method: "S256",
        state: "s1",
      }).toString();

      const context = await browser!.newContext();
      try {
        const page = await context.newPage();
        await page.goto(url.href);
        await Promise.all([page.waitForURL(/\/callback\?/, { timeout: 10_000 }), page.locator("#approve").click()]);
        expect(await page.locator("body").innerText()).toContain("callback received");
      } finally {
        await context.close();
      }
      expect(received).toHaveLength(1);
      const query = new URL(received[0] ?? "", "http://x").searchParams;
      expect(query.get("code")).toBeTruthy();
      expect(query.get("state")).toBe("s1");
    });
  }
});
