/**
 * Authorization server discovery (src/flow/discover-authorization-server.ts) against a metadata server on
 * 127.0.0.1: which locations are tried, in what order and when it stops; what a found document must hold
 * before it is used (the exact issuer, valid fields, the endpoints the grant needs,
 * PKCE S256 for the code flow, and endpoints that pass the http: rule, each checked separately); and the
 * 2025-03-26 path (metadata at the MCP server's origin, an issuer on that origin, or default endpoints that
 * pass the same rule).
 */
import { describe, expect, it } from "vitest";
import { createBackChannelFetch, type FetchLike } from "../src/shared/back-channel.js";
import { discoverAuthorizationServer, discoverLegacyAuthorizationServer } from "../src/flow/discover-authorization-server.js";
import type { MetadataContext } from "../src/flow/fetch-metadata.js";
import { OAuthError, type OAuthEvent } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { asMetadata, startMetadataServer, type Route } from "./support/metadata-server.js";

const closeLater = cleanupAfterEach();

function context(extra: Partial<MetadataContext> = {}): MetadataContext {
  return {
    fetch: createBackChannelFetch(fetch, { timeoutMs: 2_000, maxResponseBytes: 65_536 }),
    onEvent: (_event: OAuthEvent) => undefined,
    ...extra,
  };
}

async function metadataServer(routes: Record<string, Route | ((origin: string) => Route)> = {}) {
  const server = await startMetadataServer(routes);
  closeLater(server.close);
  return server;
}

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`, { cause: error });
  return error;
}

describe("the locations tried for an issuer", () => {
  it("a path issuer with trailing slashes: OAuth insertion, OIDC insertion, OIDC appending, each without the slashes; then discovery_failed listing them", async () => {
    const server = await metadataServer();
    const error = await failure(discoverAuthorizationServer(`${server.origin}/tenant//`, context()));
    const tried = ["/.well-known/oauth-authorization-server/tenant", "/.well-known/openid-configuration/tenant", "/tenant/.well-known/openid-configuration"];
    expect(server.requested).toEqual(tried);
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toBe(`no authorization server metadata found for issuer ${server.origin}/tenant// (tried ${tried.map((path) => server.origin + path).join(", ")})`);
  });

  it.each(["/", "//"])("a root issuer written with %j tries only the two root locations", async (slashes) => {
    const server = await metadataServer();
    const error = await failure(discoverAuthorizationServer(`${server.origin}${slashes}`, context()));
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]);
    expect(error.code).toBe("discovery_failed");
  });

  it("the first document found is used and nothing further is requested; its URL is returned", async () => {
    const server = await metadataServer({
      "/.well-known/oauth-authorization-server/tenant": (origin) => ({ body: asMetadata(`${origin}/tenant`, { scopes_supported: ["a"] }) }),
      "/.well-known/openid-configuration/tenant": (origin) => ({ body: asMetadata(`${origin}/other`) }),
    });
    const found = await discoverAuthorizationServer(`${server.origin}/tenant`, context());
    expect(found.url).toBe(`${server.origin}/.well-known/oauth-authorization-server/tenant`);
    expect(found.metadata).toMatchObject({ issuer: `${server.origin}/tenant`, token_endpoint: `${server.origin}/token`, scopes_supported: ["a"] });
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server/tenant"]);
  });

  it("a 4xx moves on to the next location; the document found there is returned with its URL", async () => {
    const server = await metadataServer({
      "/.well-known/oauth-authorization-server/tenant": { status: 403 },
      "/.well-known/openid-configuration/tenant": { status: 410 },
      "/tenant/.well-known/openid-configuration": (origin) => ({ body: asMetadata(`${origin}/tenant`) }),
    });
    const found = await discoverAuthorizationServer(`${server.origin}/tenant`, context());
    expect(found.url).toBe(`${server.origin}/tenant/.well-known/openid-configuration`);
    expect(found.metadata.issuer).toBe(`${server.origin}/tenant`);
  });
});

describe("what a found document must hold", () => {
  async function discoverWith(document: (origin: string) => Record<string, unknown>, extra: Partial<MetadataContext> = {}) {
    const server = await metadataServer({
      "/.well-known/oauth-authorization-server": (origin) => ({ body: document(origin) }),
      "/.well-known/openid-configuration": (origin) => ({ body: asMetadata(origin) }),
    });
    const result = discoverAuthorizationServer(server.origin, context(extra));
    return { server, result };
  }

  it("an issuer other than the one asked for: issuer_mismatch quoting both, and no other location is tried", async () => {
    const { server, result } = await discoverWith((origin) => asMetadata(`${origin}/elsewhere`));
    const error = await failure(result);
    expect(error.code).toBe("issuer_mismatch");
    expect(error.message).toBe(
      `authorization server metadata at ${server.origin}/.well-known/oauth-authorization-server names issuer "${server.origin}/elsewhere", expected exactly "${server.origin}"`,
    );
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server"]);
  });

  it("a field of the wrong type: discovery_failed naming it", async () => {
    const { result } = await discoverWith((origin) => asMetadata(origin, { token_endpoint: 42 }));
    const error = await failure(result);
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toMatch(/is invalid: token_endpoint /);
    const { result: nested } = await discoverWith((origin) => asMetadata(origin, { code_challenge_methods_supported: ["S256", 7] }));
    expect((await failure(nested)).message).toMatch(/is invalid: code_challenge_methods_supported\.1 /);
  });

  it("no token endpoint: discovery_failed, whatever the grant", async () => {
    for (const authorizationCode of [true, false]) {
      const { result } = await discoverWith((origin) => asMetadata(origin, { token_endpoint: undefined }), { authorizationCode });
      const error = await failure(result);
      expect(error.code).toBe("discovery_failed");
      expect(error.message).toMatch(/lacks token_endpoint$/);
    }
  });

  it("no authorization endpoint: discovery_failed for the code flow (also by default), accepted for a grant without a browser", async () => {
    for (const extra of [{}, { authorizationCode: true }]) {
      const { result } = await discoverWith((origin) => asMetadata(origin, { authorization_endpoint: undefined }), extra);
      const error = await failure(result);
      expect(error.code).toBe("discovery_failed");
      expect(error.message).toMatch(/lacks authorization_endpoint$/);
    }
    const { server, result } = await discoverWith((origin) => asMetadata(origin, { authorization_endpoint: undefined, code_challenge_methods_supported: undefined }), {
      authorizationCode: false,
    });
    await expect(result).resolves.toMatchObject({ metadata: { issuer: server.origin, token_endpoint: `${server.origin}/token` } });
  });

  it("PKCE S256 is required for the code flow only", async () => {
    const { server, result } = await discoverWith((origin) => asMetadata(origin, { code_challenge_methods_supported: ["plain"] }));
    const error = await failure(result);
    expect(error.code).toBe("pkce_unsupported");
    expect(error.message).toBe(`authorization server ${server.origin} does not advertise PKCE S256 in code_challenge_methods_supported`);
    const { result: noBrowser } = await discoverWith((origin) => asMetadata(origin, { code_challenge_methods_supported: ["plain"] }), { authorizationCode: false });
    await expect(noBrowser).resolves.toMatchObject({ metadata: { code_challenge_methods_supported: ["plain"] } });
  });

  it.each(["authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"])(
    "an http: %s on a host that is not loopback: insecure_endpoint naming it",
    async (endpoint) => {
      const { result } = await discoverWith((origin) => asMetadata(origin, { revocation_endpoint: `${origin}/revoke`, [endpoint]: "http://as.example.com/x" }));
      const error = await failure(result);
      expect(error.code).toBe("insecure_endpoint");
      expect(error.message).toMatch(new RegExp(`^${endpoint} must use https:`));
    },
  );

  it("the same endpoints on loopback pass without rules, and with rules only when the MCP URL is loopback too", async () => {
    const { result } = await discoverWith((origin) => asMetadata(origin, { revocation_endpoint: `${origin}/revoke` }));
    await expect(result).resolves.toBeDefined();
    const rules = { mcpUrl: new URL("https://mcp.example.com/mcp"), allowInsecureHttp: false };
    // The issuer itself is checked first: with these rules the loopback http: issuer is refused before any request.
    const { server, result: remote } = await discoverWith((origin) => asMetadata(origin), { rules });
    expect((await failure(remote)).message).toMatch(/^authorization server issuer must use https:/);
    expect(server.requested).toEqual([]);
  });
});

describe("2025-03-26 servers (no protected resource metadata)", () => {
  it("metadata at the origin's OIDC location when the OAuth one is missing; the MCP URL's path plays no part", async () => {
    const server = await metadataServer({ "/.well-known/openid-configuration": (origin) => ({ body: asMetadata(`${origin}/oauth`) }) });
    const found = await discoverLegacyAuthorizationServer(new URL(`${server.origin}/api/mcp`), context());
    expect(found).toMatchObject({ url: `${server.origin}/.well-known/openid-configuration`, metadata: { issuer: `${server.origin}/oauth` } });
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]);
  });

  it("the OAuth location first, and only it when it answers", async () => {
    const server = await metadataServer({
      "/.well-known/oauth-authorization-server": (origin) => ({ body: asMetadata(origin) }),
      "/.well-known/openid-configuration": (origin) => ({ body: asMetadata(origin) }),
    });
    const found = await discoverLegacyAuthorizationServer(new URL(`${server.origin}/mcp`), context());
    expect(found.url).toBe(`${server.origin}/.well-known/oauth-authorization-server`);
    expect(server.requested).toEqual(["/.well-known/oauth-authorization-server"]);
  });

  it.each<[string, (origin: string) => unknown]>([
    ["on another origin", () => "http://127.0.0.2:1/"],
    ["that is not a URL", () => "not a url"],
    ["that is not a string", () => 42],
    ["missing", () => undefined],
    // An array whose string form is a URL on the right origin: the type check, not the URL parser, refuses it.
    ["that is a one-element array of the right origin", (origin) => [origin]],
  ])("an issuer %s: issuer_mismatch before the document is used", async (_name, issuer) => {
    const server = await metadataServer({ "/.well-known/oauth-authorization-server": (origin) => ({ body: { ...asMetadata(origin), issuer: issuer(origin) } }) });
    const error = await failure(discoverLegacyAuthorizationServer(new URL(`${server.origin}/mcp`), context()));
    expect(error.code).toBe("issuer_mismatch");
    expect(error.message).toBe(
      `authorization server metadata at ${server.origin}/.well-known/oauth-authorization-server names issuer ${JSON.stringify(issuer(server.origin))}, not on ${server.origin}`,
    );
  });

  it("a found document is held to the same checks (PKCE here)", async () => {
    const server = await metadataServer({ "/.well-known/oauth-authorization-server": (origin) => ({ body: asMetadata(origin, { code_challenge_methods_supported: undefined }) }) });
    expect((await failure(discoverLegacyAuthorizationServer(new URL(`${server.origin}/mcp`), context()))).code).toBe("pkce_unsupported");
  });

  it("no metadata: default endpoints at the origin, no metadata URL", async () => {
    const server = await metadataServer();
    const found = await discoverLegacyAuthorizationServer(new URL(`${server.origin}/api/mcp?x=1`), context());
    expect(found).toEqual({
      url: undefined,
      metadata: {
        issuer: server.origin,
        authorization_endpoint: `${server.origin}/authorize`,
        token_endpoint: `${server.origin}/token`,
        registration_endpoint: `${server.origin}/register`,
      },
    });
  });

  it("default endpoints on a plain-http host that is not loopback are refused (insecure_endpoint) even with allowInsecureHttp", async () => {
    // The document requests are answered by a stub: only the endpoint check is under test.
    const requested: string[] = [];
    const notFound: FetchLike = (input) => {
      requested.push(String(input));
      return Promise.resolve(new Response(null, { status: 404 }));
    };
    const mcpUrl = new URL("http://mcp.example.com/mcp");
    const error = await failure(discoverLegacyAuthorizationServer(mcpUrl, context({ fetch: notFound, rules: { mcpUrl, allowInsecureHttp: true } })));
    expect(error.code).toBe("insecure_endpoint");
    expect(error.message).toMatch(/^authorization_endpoint must use https:/);
    expect(requested).toEqual(["http://mcp.example.com/.well-known/oauth-authorization-server", "http://mcp.example.com/.well-known/openid-configuration"]);
  });
});
