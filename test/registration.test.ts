import { afterEach, describe, expect, it } from "vitest";
import { configuredClient, isUsableRegistration } from "../src/flow/register-client.js";
import { clientAuthentication } from "../src/flow/client-authentication.js";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.server.close();
  h = undefined;
});

describe("client registration", () => {
  it("registers dynamically as a native public client with the seed's defaults and additional metadata", async () => {
    h = await harness({}, { scopes: ["read"], additionalClientMetadata: { software_id: "mcp-oauth-tests" } });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const registration = h.server.requests.find((r) => r.path === "/register");
    expect(registration?.json).toMatchObject({
      client_name: "FastMCP Client",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
      scope: "read",
      software_id: "mcp-oauth-tests",
    });
    expect((registration?.json as { redirect_uris: string[] }).redirect_uris[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const stored = await h.store.get(h.oauth.storageKey("client", h.server.issuer));
    expect(stored).toMatchObject({ client_id: expect.any(String), token_endpoint_auth_method: "none" });
  });

  it("uses a pre-registered client with client_secret_post and never calls /register", async () => {
    h = await harness();
    h.server.provider.registerClient({
      client_id: "pre-registered",
      client_secret: "pre-registered-secret",
      redirect_uris: ["http://127.0.0.1/callback"],
      token_endpoint_auth_method: "client_secret_post",
    } as Parameters<typeof h.server.provider.registerClient>[0]);
    const oauth = h.restart({ clientId: "pre-registered", clientSecret: "pre-registered-secret" });
    expect((await oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.count("/register")).toBe(0);
    const token = h.server.requests.find((r) => r.path === "/token");
    expect(token?.form).toMatchObject({ client_id: "pre-registered", client_secret: "pre-registered-secret" });
    expect(token?.authorization).toBeUndefined();
  });

  it("uses the Client ID Metadata Document URL as client_id when the server supports CIMD", async () => {
    h = await harness({ metadataOverrides: { client_id_metadata_document_supported: true } }, { callbackTimeoutMs: 500 });
    const oauth = h.restart({ clientMetadataUrl: "https://client.example.com/oauth/metadata.json" });
    // The SDK peer cannot fetch the document, so the flow ends at the callback deadline.
    await oauth.fetch(h.server.mcpUrl, rpc()).catch(() => undefined);
    expect(new URL(h.browser.opened[0] ?? "").searchParams.get("client_id")).toBe("https://client.example.com/oauth/metadata.json");
    expect(h.server.count("/register")).toBe(0);
  });

  it("drops a registration the server forgot (restart without persistence) and registers once more", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    h.server.forgetClients();
    h.server.revokeAllAccessTokens();
    const restarted = h.restart();
    expect((await restarted.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.count("/register")).toBe(2);
    expect(h.events.some((e) => e.type === "client_dropped")).toBe(true);
    expect(h.browser.opened).toHaveLength(2);
  });

  it("reuses a stored registration and its callback port across restarts", async () => {
    h = await harness();
    await h.oauth.fetch(h.server.mcpUrl, rpc());
    await h.oauth.clearTokens();
    const restarted = h.restart();
    expect((await restarted.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(h.server.count("/register")).toBe(1);
    const redirects = h.browser.opened.map((url) => new URL(url).searchParams.get("redirect_uri"));
    expect(redirects[1]).toBe(redirects[0]);
  });
});

describe("reusing a stored registration", () => {
  const redirect = "http://127.0.0.1:4000/callback";
  it("only when its registered scope (if the server reported one) covers the scope asked for", () => {
    const client = { client_id: "c", redirect_uris: [redirect], scope: "a b" };
    expect(isUsableRegistration(client, redirect, 0, "a b")).toBe(true);
    expect(isUsableRegistration(client, redirect, 0, undefined)).toBe(true);
    expect(isUsableRegistration(client, redirect, 0, "a c")).toBe(false);
    expect(isUsableRegistration({ client_id: "c", redirect_uris: [redirect] }, redirect, 0, "a c")).toBe(true);
    expect(isUsableRegistration(client, "http://127.0.0.1:4001/callback", 0, "a")).toBe(false);
  });
});

describe("token endpoint client authentication", () => {
  const as = (methods?: string[]) => ({ issuer: "https://as.example.com", ...(methods ? { token_endpoint_auth_methods_supported: methods } : {}) });
  const options = (secret?: string) => ({ clientId: "c", clientSecret: secret, clientMetadataUrl: undefined, additionalClientMetadata: {} });
  const cases: [string, string[] | undefined, string | undefined, string][] = [
    ["client_secret_post when the server lists it beside client_secret_basic", ["client_secret_basic", "client_secret_post"], "s", "client_secret_post"],
    ["client_secret_basic when the server lists it without client_secret_post", ["client_secret_basic", "none"], "s", "client_secret_basic"],
    ["client_secret_post when that is all the server lists", ["client_secret_post", "none"], "s", "client_secret_post"],
    ["client_secret_basic when the server lists nothing (RFC 8414 default)", undefined, "s", "client_secret_basic"],
    ["none without a secret", ["client_secret_basic"], undefined, "none"],
  ];
  for (const [name, methods, secret, expected] of cases) {
    it(`a pre-registered client uses ${name}`, () => {
      const configured = configuredClient({ ...options(secret), signingKey: undefined }, as(methods), "http://127.0.0.1:1/callback");
      expect(configured?.record.token_endpoint_auth_method).toBe(expected);
      expect(() => clientAuthentication(configured!.record)).not.toThrow();
    });
  }

  it("refuses a secret-based method without a secret, and an unknown method, with a typed error", () => {
    expect(() => clientAuthentication({ client_id: "c", redirect_uris: [], token_endpoint_auth_method: "client_secret_basic" })).toThrow(
      expect.objectContaining({ code: "registration_failed" }),
    );
    expect(() => clientAuthentication({ client_id: "c", redirect_uris: [], token_endpoint_auth_method: "tls_client_auth" })).toThrow(
      expect.objectContaining({ code: "registration_failed" }),
    );
  });
});
