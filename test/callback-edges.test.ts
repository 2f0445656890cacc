import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError, type OAuthEvent } from "../src/index.js";
import { harness, rpc, type Harness } from "./support/harness.js";

/** Edges the mutation run found untested (docs/mutation.md): each of these checks could break unnoticed before. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

describe("edges of the authorization response and the loopback listener", () => {
  it("a callback without iss from a server that does not advertise RFC 9207 is accepted", async () => {
    h = await harness({ sendIss: false });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "authorization_code")).toBe(1);
  });

  it("the loopback port is released at once when the browser cannot be opened", async () => {
    const events: OAuthEvent[] = [];
    h = await harness({}, { openBrowser: () => Promise.reject(new Error("no browser here")), onEvent: (event) => events.push(event), callbackTimeoutMs: 60_000 });
    const started = Date.now();
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    const listening = events.find((event) => event.type === "callback_listening");
    const redirectUri = listening && "redirectUri" in listening ? listening.redirectUri : "";
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    await expect(fetch(redirectUri)).rejects.toThrow();
  });

  it("resource metadata whose resource is not a URL is refused with resource_mismatch, not an untyped error", async () => {
    h = await harness({ prmOverrides: { resource: "not a url" } });
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error, "resource_mismatch")).toBe(true);
    expect(h.server.count("/authorize") + h.server.count("/register")).toBe(0);
  });
});
