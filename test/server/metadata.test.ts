import { describe, expect, it } from "vitest";
import { OAuthError } from "../../src/index.js";
import { InMemoryOAuthProvider } from "../../src/server/index.js";
import { serverUnderTest } from "./support.js";

const get = (provider: InMemoryOAuthProvider, url: string, init?: RequestInit) => provider.handle(new Request(url, init));

describe("authorization server metadata (RFC 8414, S1, S2)", () => {
  it("serves every field an MCP client needs, with the issuer identical to iss and to the resource metadata", async () => {
    const t = await serverUnderTest({ serviceDocumentationUrl: "https://docs.example.com/mcp" });
    const response = await fetch(t.url("/.well-known/oauth-authorization-server"));
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const origin = t.server.origin;
    expect(await response.json()).toEqual({
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      revocation_endpoint: `${origin}/revoke`,
      revocation_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
      scopes_supported: ["mcp:tools", "mcp:admin"],
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      grant_types_supported: ["authorization_code", "refresh_token"],
      token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256"],
      authorization_response_iss_parameter_supported: true,
      service_documentation: "https://docs.example.com/mcp",
    });
    const openid = await (await fetch(t.url("/.well-known/openid-configuration"))).json();
    expect((openid as { issuer: string }).issuer).toBe(origin);
  });

  it("an issuer with a path is served by path insertion, and under both OpenID Connect aliases", async () => {
    const provider = new InMemoryOAuthProvider({ baseUrl: "https://auth.example.com/tenant1", resourceBaseUrl: "https://mcp.example.com" });
    expect(provider.issuer).toBe("https://auth.example.com/tenant1");
    for (const path of ["/.well-known/oauth-authorization-server/tenant1", "/.well-known/openid-configuration/tenant1", "/tenant1/.well-known/openid-configuration"]) {
      const body = (await (await get(provider, `https://auth.example.com${path}`)).json()) as Record<string, string>;
      expect(body.issuer).toBe("https://auth.example.com/tenant1");
      expect(body.authorization_endpoint).toBe("https://auth.example.com/tenant1/authorize");
    }
    expect((await get(provider, "https://auth.example.com/.well-known/oauth-authorization-server")).status).toBe(404);
  });

  it("without revocation or registration, neither endpoint is advertised nor served", async () => {
    const provider = new InMemoryOAuthProvider({ baseUrl: "https://auth.example.com" });
    const body = (await (await get(provider, "https://auth.example.com/.well-known/oauth-authorization-server")).json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty("revocation_endpoint");
    expect(body).not.toHaveProperty("registration_endpoint");
    expect((await get(provider, "https://auth.example.com/revoke", { method: "POST" })).status).toBe(404);
  });
});

describe("protected resource metadata (RFC 9728, S32)", () => {
  it("names the MCP endpoint exactly and the issuer as its authorization server", async () => {
    const t = await serverUnderTest();
    const body = await (await fetch(t.url("/.well-known/oauth-protected-resource/mcp"))).json();
    expect(body).toEqual({ resource: t.server.mcpUrl, authorization_servers: [t.server.issuer], scopes_supported: ["mcp:tools", "mcp:admin"], bearer_methods_supported: ["header"] });
  });

  it("follows resourceBaseUrl and mcpPath", async () => {
    const provider = new InMemoryOAuthProvider({ baseUrl: "https://auth.example.com", resourceBaseUrl: "https://mcp.example.com/v1/", mcpPath: "/rpc" });
    expect(provider.resource).toBe("https://mcp.example.com/v1/rpc");
    expect(provider.resourceMetadataUrl).toBe("https://mcp.example.com/.well-known/oauth-protected-resource/v1/rpc");
    const body = (await (await get(provider, provider.resourceMetadataUrl)).json()) as Record<string, unknown>;
    expect(body.resource).toBe("https://mcp.example.com/v1/rpc");
  });
});

describe("CORS (S4)", () => {
  for (const [path, method] of [
    ["/.well-known/oauth-authorization-server", "GET"],
    ["/.well-known/oauth-protected-resource/mcp", "GET"],
    ["/token", "POST"],
    ["/register", "POST"],
    ["/revoke", "POST"],
  ] as const) {
    it(`preflight allowed on ${path}`, async () => {
      const t = await serverUnderTest();
      const response = await fetch(t.url(path), { method: "OPTIONS", headers: { origin: "https://inspector.example", "access-control-request-method": method } });
      expect(response.status).toBe(204);
      expect(response.headers.get("access-control-allow-origin")).toBe("*");
      expect(response.headers.get("access-control-allow-methods")).toContain(method);
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    });
  }

  it("never on /authorize, whatever the method", async () => {
    const t = await serverUnderTest();
    const client = await t.register();
    const response = await t.authorize({ client_id: client.client_id });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("HEAD on metadata answers 200 with the headers and no body", async () => {
    const t = await serverUnderTest();
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"]) {
      const response = await fetch(t.url(path), { method: "HEAD" });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(await response.text()).toBe("");
    }
  });

  it("a wrong method on an endpoint is 405 with Allow", async () => {
    const t = await serverUnderTest();
    const response = await fetch(t.url("/token"));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });
});

describe("options (S3)", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["a missing baseUrl", {}, "baseUrl"],
    ["an http: issuer on a public host", { baseUrl: "https://a.example.com", issuerUrl: "http://a.example.com" }, "issuerUrl"],
    ["an http: baseUrl on a public host", { baseUrl: "http://a.example.com" }, "baseUrl"],
    ["an issuer with a query", { baseUrl: "https://a.example.com/?x=1" }, "baseUrl"],
    ["an issuer with a fragment", { baseUrl: "https://a.example.com/#x" }, "baseUrl"],
    ["a code lifetime over 10 minutes", { baseUrl: "https://a.example.com", authorizationCodeTtlSeconds: 601 }, "authorizationCodeTtlSeconds"],
    ["a grace window over 5 minutes", { baseUrl: "https://a.example.com", refreshTokenGraceSeconds: 301 }, "refreshTokenGraceSeconds"],
    ["a default scope outside validScopes", { baseUrl: "https://a.example.com", clientRegistration: { validScopes: ["a"], defaultScopes: ["b"] } }, "clientRegistration.defaultScopes"],
    ["an issuer with an empty query", { baseUrl: "https://a.example.com", issuerUrl: "https://a.example.com/?" }, "issuerUrl"],
    ["an issuer with an empty fragment", { baseUrl: "https://a.example.com", issuerUrl: "https://a.example.com/#" }, "issuerUrl"],
    ["a required scope outside validScopes", { baseUrl: "https://a.example.com", clientRegistration: { validScopes: ["a"] }, requiredScopes: ["b"] }, "requiredScopes"],
    ["a default scope when no scope is valid", { baseUrl: "https://a.example.com", clientRegistration: { defaultScopes: ["b"] } }, "clientRegistration.defaultScopes"],
    ["a misspelt option", { baseUrl: "https://a.example.com", requiredScope: ["a"] }, "requiredScope"],
    ["a misspelt subclass option", { baseUrl: "https://a.example.com", autoApprov: true }, "autoApprov"],
    ["a non-boolean autoApprove", { baseUrl: "https://a.example.com", autoApprove: "yes" }, "autoApprove"],
  ];
  for (const [name, options, option] of cases) {
    it(`refuses ${name}, naming the option`, () => {
      let error: unknown;
      try {
        new InMemoryOAuthProvider(options as never);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).code).toBe("invalid_options");
      expect((error as OAuthError).message).toContain(`\`${option}\``);
    });
  }

  it("serves the issuer normalised (dot segments resolved), not as written", () => {
    expect(new InMemoryOAuthProvider({ baseUrl: "https://a.example.com", issuerUrl: "https://A.example.com/x/../tenant/./" }).issuer).toBe("https://a.example.com/tenant");
    expect(new InMemoryOAuthProvider({ baseUrl: "https://a.example.com", issuerUrl: "https://a.example.com:443/a/.." }).issuer).toBe("https://a.example.com");
  });

  it("accepts http: on loopback hosts for development", () => {
    expect(() => new InMemoryOAuthProvider({ baseUrl: "http://127.0.0.1:8080" })).not.toThrow();
    expect(() => new InMemoryOAuthProvider({ baseUrl: "http://localhost:8080", issuerUrl: "http://[::1]:8080" })).not.toThrow();
  });
});

describe("an MCP endpoint at the root of its origin", () => {
  it("binds tokens to the origin, with or without `resource`, and serves the root resource metadata", async () => {
    const { pkce } = await import("./support.js");
    const provider = new InMemoryOAuthProvider({ baseUrl: "https://auth.example.com", resourceBaseUrl: "https://mcp.example.com", mcpPath: "/", autoApprove: true, clients: [{ client_id: "c", client_id_issued_at: 0, redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none", grant_types: ["authorization_code"], response_types: ["code"] }] });
    expect(provider.resource).toBe("https://mcp.example.com/");
    expect(provider.resourceMetadataUrl).toBe("https://mcp.example.com/.well-known/oauth-protected-resource");
    for (const resource of [undefined, "https://mcp.example.com", "https://mcp.example.com/"]) {
      const url = new URL("https://auth.example.com/authorize");
      url.search = new URLSearchParams({ response_type: "code", client_id: "c", code_challenge: pkce().challenge, code_challenge_method: "S256", ...(resource ? { resource } : {}) }).toString();
      const location = new URL((await provider.handle(new Request(url))).headers.get("location") ?? "");
      expect(location.searchParams.get("code")).toBeTruthy();
    }
  });
});
