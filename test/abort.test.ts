import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { OAuthError } from "../src/index.js";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

/** An opener that holds the authorization URL until the test lets the "user" finish the login. */
function heldBrowser() {
  const opened: string[] = [];
  return {
    opened,
    open: (url: string) => void opened.push(url),
    finish: async () => {
      const page = await fetch(opened[0]!, { redirect: "follow" });
      await page.body?.cancel();
    },
  };
}

describe("a caller's abort is honoured while its request waits for a login", () => {
  it("oauth.fetch rejects at once with the signal's reason; the login goes on for the other waiters", async () => {
    const browser = heldBrowser();
    h = await harness({}, { openBrowser: browser.open, callbackTimeoutMs: 20_000 });
    const controller = new AbortController();
    const reason = new Error("the caller gave up");
    const aborted = h.oauth.fetch(h.server.mcpUrl, { ...rpc(), signal: controller.signal });
    const patient = h.oauth.fetch(h.server.mcpUrl, rpc());
    await expect.poll(() => browser.opened.length).toBe(1);

    const started = Date.now();
    setTimeout(() => controller.abort(reason), 200);
    await expect(aborted).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);

    await browser.finish();
    expect((await patient).status).toBe(200);
    expect(h.server.count("/authorize")).toBe(1);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "authorization_code")).toBe(1);
  });

  it("a signal that already fired rejects before any token is sought", async () => {
    const browser = heldBrowser();
    h = await harness({}, { openBrowser: browser.open });
    const error = await h.oauth.fetch(h.server.mcpUrl, { ...rpc(), signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe("AbortError");
  });

  it("the undici interceptor rejects at once with the signal's reason too", async () => {
    const browser = heldBrowser();
    h = await harness({}, { openBrowser: browser.open, callbackTimeoutMs: 20_000 });
    const dispatcher = new Agent().compose(h.oauth.interceptor());
    const controller = new AbortController();
    const reason = new Error("interceptor caller gave up");
    const init = rpc();
    const aborted = request(h.server.mcpUrl, { dispatcher, method: "POST", headers: init.headers as Record<string, string>, body: init.body as string, signal: controller.signal });
    const patient = request(h.server.mcpUrl, { dispatcher, method: "POST", headers: init.headers as Record<string, string>, body: init.body as string });
    await expect.poll(() => browser.opened.length).toBe(1);
    setTimeout(() => controller.abort(reason), 200);
    await expect(aborted).rejects.toBe(reason);
    await browser.finish();
    const answer = await patient;
    expect(answer.statusCode).toBe(200);
    await answer.body.dump();
    await dispatcher.close();
  });

  it("the instance's signal still ends every wait with OAuthError aborted", async () => {
    const browser = heldBrowser();
    const controller = new AbortController();
    h = await harness({}, { openBrowser: browser.open, signal: controller.signal, callbackTimeoutMs: 20_000 });
    const pending = h.oauth.fetch(h.server.mcpUrl, rpc());
    await expect.poll(() => browser.opened.length).toBe(1);
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe("aborted");
  });
});
