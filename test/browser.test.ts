import type { Browser } from "playwright-core";
import { chromiumAvailable, chromiumPath, launchChromium } from "./support/chromium.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isOAuthError } from "../src/index.js";
import { harness, rpc, type Harness } from "./support/harness.js";

/**
 * The user's side for real: Debian's Chromium, headless, is the browser the library hands the
 * authorization URL to. It follows the server's redirect to the loopback callback and renders our page.
 */

let browser: Browser | undefined;
let h: Harness | undefined;
beforeAll(async () => {
  if (!chromiumAvailable) return;
  browser = await launchChromium();
});
afterAll(async () => browser?.close());
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

function chromiumOpener() {
  const pages: { title: string; text: string; images: number; scripts: number }[] = [];
  const done: Promise<void>[] = [];
  return {
    pages,
    settled: () => Promise.all(done),
    open: async (url: string) => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      done.push(
        (async () => {
          await page.goto(url, { waitUntil: "load" });
          pages.push({
            title: await page.title(),
            text: await page.locator("body").innerText(),
            images: await page.locator("img").count(),
            scripts: await page.locator("script").count(),
          });
          await context.close();
        })(),
      );
    },
  };
}

describe.skipIf(!chromiumAvailable)(`a real browser (${chromiumPath}${chromiumAvailable ? "" : " is not installed: apt-get install -y chromium"})`, () => {
  it("completes the authorization and shows the success page", async () => {
    const opener = chromiumOpener();
    h = await harness({}, { openBrowser: opener.open });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    await opener.settled();
    expect(opener.pages).toEqual([{ title: "Authorization complete", text: expect.stringContaining("You can close this tab"), images: 0, scripts: 0 }]);
  });

  it("renders a hostile error_description as text, not markup", async () => {
    const opener = chromiumOpener();
    const description = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
    h = await harness({ faults: { authorizeError: { error: "access_denied", error_description: description } } }, { openBrowser: opener.open });
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "access_denied")).toBe(true);
    await opener.settled();
    expect(opener.pages[0]?.title).toBe("Authorization failed");
    expect(opener.pages[0]?.text).toContain(description);
    expect(opener.pages[0]?.images).toBe(0);
    expect(opener.pages[0]?.scripts).toBe(0);
  });
});
