import { describe, expect, it } from "vitest";
import { createBackChannelFetch } from "../src/shared/back-channel.js";
import { discoverAuthorizationServer, discoverLegacyAuthorizationServer } from "../src/flow/discover-authorization-server.js";
import { assertResourceCovers, discoverResource } from "../src/flow/discover-resource.js";
import { pathWithin } from "../src/shared/resource-covers.js";
import { isOAuthError, type OAuthEvent } from "../src/index.js";
import { harness, rpc } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { asMetadata, startMetadataServer } from "./support/metadata-server.js";

const closeLater = cleanupAfterEach();

function ctx(limits = { timeoutMs: 2_000, maxResponseBytes: 65_536 }) {
  const events: OAuthEvent[] = [];
  return { events, fetch: createBackChannelFetch(fetch, limits), onEvent: (e: OAuthEvent) => void events.push(e) };
}

async function metadataServer(...args: Parameters<typeof startMetadataServer>) {
  const server = await startMetadataServer(...args);
  closeLater(server.close);
  return server;
}

describe("discovery refusals against the SDK peer (before any authorization request)", () => {
  const refusals: [string, Parameters<typeof harness>[0], string][] = [
    ["resource metadata naming another origin", { prmOverrides: { resource: "https://evil.example.com/mcp" } }, "resource_mismatch"],
    ["an issuer that differs from the one discovered", { metadataOverrides: { issuer: "http://127.0.0.1:1/" } }, "issuer_mismatch"],
    ["no code_challenge_methods_supported", { metadataOverrides: { code_challenge_methods_supported: undefined } }, "pkce_unsupported"],
    ["only plain PKCE", { metadataOverrides: { code_challenge_methods_supported: ["plain"] } }, "pkce_unsupported"],
    ["a non-loopback http: authorization endpoint", { metadataOverrides: { authorization_endpoint: "http://example.com/authorize" } }, "insecure_endpoint"],
    ["a javascript: authorization endpoint", { metadataOverrides: { authorization_endpoint: "javascript:alert(1)" } }, "insecure_endpoint"],
  ];
  for (const [name, options, code] of refusals) {
    it(`refuses ${name}`, async () => {
      const h = await harness(options);
      closeLater(h.server.close);
      const error = await h.oauth.fetch(h.server.mcpUrl, rpc()).catch((e: unknown) => e);
      expect(isOAuthError(error) && error.code).toBe(code);
      expect(h.browser.opened).toEqual([]);
      expect(h.server.count("/authorize") + h.server.count("/register") + h.server.count("/token")).toBe(0);
    });
  }

  it("refuses an issuer that differs only by a trailing slash", async () => {
    const h = await harness();
    closeLater(h.server.close);
    const issuer = h.server.issuer.replace(/\/$/, "");
    await expect(discoverAuthorizationServer(issuer, ctx())).rejects.toMatchObject({ code: "issuer_mismatch" });
  });
});

describe("discovery order", () => {
  it("uses the challenge's resource_metadata URL and never probes the root when it works", async () => {
    const server = await metadataServer({
      "/custom/prm.json": (origin) => ({ body: { resource: `${origin}/mcp`, authorization_servers: [`${origin}/`] } }),
    });
    const found = await discoverResource(new URL(`${server.origin}/mcp`), `${server.origin}/custom/prm.json`, ctx());
    expect(found?.resource).toBe(`${server.origin}/mcp`);
    expect(server.requested).toEqual(["/custom/prm.json"]);
  });

  it("falls back from the path-aware to the root PRM, accepts a parent resource, then walks RFC 8414 and OIDC for a path issuer", async () => {
    const server = await metadataServer({
      "/.well-known/oauth-protected-resource": (origin) => ({ body: { resource: origin, authorization_servers: [`${origin}/tenant1`] } }),
      "/tenant1/.well-known/openid-configuration": (origin) => ({ body: asMetadata(`${origin}/tenant1`) }),
    });
    const prm = await discoverResource(new URL(`${server.origin}/mcp`), undefined, ctx());
    const as = await discoverAuthorizationServer(prm?.authorizationServers[0] ?? "", ctx());
    expect(as.metadata.issuer).toBe(`${server.origin}/tenant1`);
    expect(server.requested).toEqual([
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-authorization-server/tenant1",
      "/.well-known/openid-configuration/tenant1",
      "/tenant1/.well-known/openid-configuration",
    ]);
  });

  it("tries RFC 8414 then OIDC for a root issuer", async () => {
    const server = await metadataServer({ "/.well-known/openid-configuration": (origin) => ({ body: asMetadata(origin) }) });
    await discoverAuthorizationServer(server.origin, ctx());
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]);
  });

  it("treats a redirect, a 5xx, a non-object and an oversized body as errors, never following them", async () => {
    const server = await metadataServer({
      "/.well-known/oauth-protected-resource/a": { status: 302, headers: { location: "http://169.254.169.254/" } },
      "/.well-known/oauth-protected-resource/b": { status: 503 },
      "/.well-known/oauth-protected-resource/c": { body: "[1,2]" },
      "/.well-known/oauth-protected-resource/d": { body: JSON.stringify({ pad: "x".repeat(100_000) }) },
    });
    const attempt = (path: string) => discoverResource(new URL(`${server.origin}${path}`), undefined, ctx()).catch((e: unknown) => e);
    const redirect = await attempt("/a");
    expect(isOAuthError(redirect, "discovery_failed") && redirect.status).toBe(302);
    const unavailable = await attempt("/b");
    expect(isOAuthError(unavailable, "discovery_failed") && unavailable.transient).toBe(true);
    expect(isOAuthError(await attempt("/c"), "discovery_failed")).toBe(true);
    const big = await attempt("/d");
    expect(isOAuthError(big, "discovery_failed") && big.message).toContain("larger than 65536 bytes");
    expect(server.requested).not.toContain("/");
  });

  it("2025-03-26 servers: metadata at the MCP server's origin, else default endpoints", async () => {
    const withMetadata = await metadataServer({
      "/.well-known/oauth-authorization-server": (origin) => ({ body: asMetadata(`${origin}/oauth`) }),
    });
    const found = await discoverLegacyAuthorizationServer(new URL(`${withMetadata.origin}/mcp`), ctx());
    expect(found.metadata.issuer).toBe(`${withMetadata.origin}/oauth`);

    const bare = await metadataServer();
    const fallback = await discoverLegacyAuthorizationServer(new URL(`${bare.origin}/mcp`), ctx());
    expect(fallback.metadata).toMatchObject({
      authorization_endpoint: `${bare.origin}/authorize`,
      token_endpoint: `${bare.origin}/token`,
      registration_endpoint: `${bare.origin}/register`,
    });
  });

  it("accepts a resource that covers the MCP URL and refuses a sibling path", () => {
    const mcp = new URL("http://127.0.0.1:9/api/mcp");
    expect(() => assertResourceCovers("http://127.0.0.1:9/api", mcp)).not.toThrow();
    expect(() => assertResourceCovers("http://127.0.0.1:9/other", mcp)).toThrow(expect.objectContaining({ code: "resource_mismatch" }));
    expect(() => assertResourceCovers("http://127.0.0.1:9/api/mcp#x", mcp)).toThrow(expect.objectContaining({ code: "resource_mismatch" }));
  });

  it("matches resource paths at segment boundaries only", () => {
    expect(pathWithin("/mcp", "/")).toBe(true);
    expect(pathWithin("/mcp", "/mcp")).toBe(true);
    expect(pathWithin("/mcp/sub", "/mcp/")).toBe(true);
    expect(pathWithin("/mcpx", "/mcp")).toBe(false);
    expect(pathWithin("/other", "/mcp")).toBe(false);
  });
});
