import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { checkCallback } from "../src/flow/authorize.js";
import { isOAuthError, type OAuthEvent } from "../src/index.js";
import type { AuthorizationServerMetadata, ClientRecord } from "../src/store/token-store.js";
import { harness, rpc, type Harness } from "./support/harness.js";

/**
 * The authorization response check on its own (each branch with the code and the reason it gives), and the
 * authorization request's optional parts, end to end: mutants the flow tests let survive (docs/mutation.md).
 */
const as = { issuer: "https://as.test", authorization_endpoint: "https://as.test/authorize", token_endpoint: "https://as.test/token" } as AuthorizationServerMetadata;
const client: ClientRecord = { client_id: "c1", redirect_uris: ["http://127.0.0.1:1/callback"] };

function params(entries: Record<string, string>): URLSearchParams {
  return new URLSearchParams(entries);
}

function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a refusal");
}

describe("checkCallback", () => {
  it("refuses an implicit-flow response (tokens in the query) as authorization_failed, saying why", () => {
    const error = refusal(() => checkCallback(params({ state: "s", iss: as.issuer, code: "c", access_token: "AT-SECRET-9f" }), as, client, "s"));
    expect(isOAuthError(error, "authorization_failed")).toBe(true);
    expect((error as Error).message).toMatch(/implicit-flow response/);
    expect((error as Error).message).not.toContain("AT-SECRET-9f");
  });

  it("refuses a response with another state as state_mismatch, before anything else is read", () => {
    const error = refusal(() => checkCallback(params({ state: "other", code: "c", iss: as.issuer }), as, client, "mine"));
    expect(isOAuthError(error, "state_mismatch")).toBe(true);
    expect((error as Error).message).toMatch(/state does not match the request/);
    expect(isOAuthError(refusal(() => checkCallback(params({ code: "c", iss: as.issuer }), as, client, "mine")), "state_mismatch")).toBe(true);
  });

  it("says whether iss was missing or wrong", () => {
    const strict = { ...as, authorization_response_iss_parameter_supported: true };
    const missing = refusal(() => checkCallback(params({ state: "s", code: "c" }), strict, client, "s"));
    expect(isOAuthError(missing, "issuer_response_mismatch")).toBe(true);
    expect((missing as Error).message).toContain("lacks the iss parameter");
    const wrong = refusal(() => checkCallback(params({ state: "s", code: "c", iss: "https://evil.test" }), as, client, "s"));
    expect(isOAuthError(wrong, "issuer_response_mismatch")).toBe(true);
    expect((wrong as Error).message).toContain("came from another issuer");
    expect((wrong as Error).message).toContain("https://as.test");
  });

  it("accepts a code with the right state and iss, and one without iss from a server that does not advertise it", () => {
    expect(checkCallback(params({ state: "s", code: "c", iss: as.issuer }), as, client, "s").get("code")).toBe("c");
    expect(checkCallback(params({ state: "s", code: "c" }), as, client, "s").get("code")).toBe("c");
  });

  it("reports an error response other than access_denied as authorization_failed, with the server's code", () => {
    const error = refusal(() => checkCallback(params({ state: "s", iss: as.issuer, error: "invalid_scope", error_description: "no such scope" }), as, client, "s"));
    expect(isOAuthError(error, "authorization_failed")).toBe(true);
    expect((error as Error).message).toBe("the authorization server answered: invalid_scope: no such scope");
    const denied = refusal(() => checkCallback(params({ state: "s", iss: as.issuer, error: "access_denied" }), as, client, "s"));
    expect(isOAuthError(denied, "access_denied")).toBe(true);
  });
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

describe("the authorization request", () => {
  it("asks for consent when offline_access is among the scopes, and only then", async () => {
    h = await harness({ scopesSupported: ["mcp", "offline_access"] }, { scopes: ["mcp", "offline_access"] });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const withOffline = new URL(h.browser.opened[0] ?? "");
    expect(withOffline.searchParams.get("scope")).toBe("mcp offline_access");
    expect(withOffline.searchParams.get("prompt")).toBe("consent");
    await h.server.close();

    h = await harness({ scopesSupported: ["mcp"] }, { scopes: ["mcp"] });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const without = new URL(h.browser.opened[0] ?? "");
    expect(without.searchParams.get("scope")).toBe("mcp");
    expect(without.searchParams.has("prompt")).toBe(false);
  });

  it("asks for no scope and no consent when no scope is known", async () => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const url = new URL(h.browser.opened[0] ?? "");
    expect(url.searchParams.has("scope")).toBe(false);
    expect(url.searchParams.has("prompt")).toBe(false);
  });

  it("listens on another port when the registration's port is taken, and logs in there", async () => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const events: OAuthEvent[] = h.events;
    const first = events.find((event) => event.type === "callback_listening");
    const firstPort = Number(new URL(first && "redirectUri" in first ? first.redirectUri : "").port);
    expect(firstPort).toBeGreaterThan(0);
    await h.oauth.clearTokens();

    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(firstPort, "127.0.0.1", resolve));
    try {
      events.length = 0;
      expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
      const second = events.find((event) => event.type === "callback_listening");
      const secondPort = Number(new URL(second && "redirectUri" in second ? second.redirectUri : "").port);
      expect(secondPort).toBeGreaterThan(0);
      expect(secondPort).not.toBe(firstPort);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("a configured callback port that is taken fails the login as callback_failed, naming the port", async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      h = await harness({}, { callbackPort: port });
      const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
      expect(isOAuthError(error, "callback_failed")).toBe(true);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect(h.browser.opened).toHaveLength(0);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("a server without an authorization_endpoint is refused with a typed error before the browser opens", async () => {
    h = await harness({ metadataOverrides: { authorization_endpoint: undefined } });
    const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
    expect(isOAuthError(error)).toBe(true);
    expect(h.browser.opened).toHaveLength(0);
  });
});
