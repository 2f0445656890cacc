import { describe, expect, it } from "vitest";
import { REDIRECT_URI, serverUnderTest } from "./support.js";

async function registerRaw(origin: string, body: unknown, contentType = "application/json"): Promise<Response> {
  return fetch(`${origin}/register`, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body) });
}

describe("/register (RFC 7591)", () => {
  it("answers 201 with client_id, client_id_issued_at and the echoed metadata; a public client gets no secret (S5)", async () => {
    const t = await serverUnderTest();
    const response = await registerRaw(t.server.origin, { client_name: "Public", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", application_type: "native" });
    expect(response.status).toBe(201);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_name: "Public",
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      application_type: "native",
      scope: "mcp:tools",
    });
    expect(typeof body.client_id).toBe("string");
    expect(body.client_id_issued_at).toBe(Math.floor(t.clock.now / 1000));
    expect(body).not.toHaveProperty("client_secret");
    expect(body).not.toHaveProperty("client_secret_hash");
  });

  it("a confidential client gets a secret once, with its expiry; the store keeps only its hash", async () => {
    const t = await serverUnderTest({ clientRegistration: { enabled: true, validScopes: ["mcp:tools"], clientSecretExpirySeconds: 3600 } });
    const response = await registerRaw(t.server.origin, { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_post" });
    const body = (await response.json()) as { client_id: string; client_secret: string; client_secret_expires_at: number };
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.client_secret_expires_at).toBe(Math.floor(t.clock.now / 1000) + 3600);
    const stored = await t.server.provider.getClient(body.client_id);
    expect(JSON.stringify(stored)).not.toContain(body.client_secret);
    expect(stored?.client_secret_hash).toBeDefined();
  });

  it("an absent token_endpoint_auth_method means client_secret_basic (RFC 7591 §2)", async () => {
    const t = await serverUnderTest();
    const body = (await (await registerRaw(t.server.origin, { redirect_uris: [REDIRECT_URI] })).json()) as Record<string, unknown>;
    expect(body.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(body.client_secret).toBeDefined();
    expect(body.client_secret_expires_at).toBe(0);
  });

  const refused: [string, unknown, string][] = [
    ["missing redirect URIs", { client_name: "x" }, "invalid_redirect_uri"],
    ["an empty redirect URI list", { redirect_uris: [] }, "invalid_redirect_uri"],
    ["a non-loopback http: redirect URI", { redirect_uris: ["http://app.example.com/cb"] }, "invalid_redirect_uri"],
    ["a javascript: redirect URI", { redirect_uris: ["javascript:alert(document.cookie)"] }, "invalid_redirect_uri"],
    ["a data: redirect URI", { redirect_uris: ["data:text/html,<script>alert(1)</script>"] }, "invalid_redirect_uri"],
    ["a file: redirect URI", { redirect_uris: ["file:///etc/passwd"] }, "invalid_redirect_uri"],
    ["a redirect URI with a fragment", { redirect_uris: ["https://app.example.com/cb#frag"] }, "invalid_redirect_uri"],
    ["a relative redirect URI", { redirect_uris: ["/cb"] }, "invalid_redirect_uri"],
    ["a private-use scheme for a web client", { redirect_uris: ["com.example.app:/cb"] }, "invalid_redirect_uri"],
    ["a private-use scheme without a dot", { redirect_uris: ["myapp:/cb"], application_type: "native" }, "invalid_redirect_uri"],
    ["the implicit grant", { redirect_uris: [REDIRECT_URI], grant_types: ["implicit"] }, "invalid_client_metadata"],
    ["the password grant", { redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "password"] }, "invalid_client_metadata"],
    ["only the refresh grant", { redirect_uris: [REDIRECT_URI], grant_types: ["refresh_token"] }, "invalid_client_metadata"],
    ["the token response type", { redirect_uris: [REDIRECT_URI], response_types: ["token"] }, "invalid_client_metadata"],
    ["an unknown auth method", { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "private_key_jwt" }, "invalid_client_metadata"],
    ["a scope outside validScopes", { redirect_uris: [REDIRECT_URI], scope: "mcp:tools root" }, "invalid_client_metadata"],
    ["a javascript: logo_uri", { redirect_uris: [REDIRECT_URI], logo_uri: "javascript:alert(1)" }, "invalid_client_metadata"],
    ["an overlong client_name", { redirect_uris: [REDIRECT_URI], client_name: "x".repeat(201) }, "invalid_client_metadata"],
    ["a JSON array", [REDIRECT_URI], "invalid_client_metadata"],
    ["a body that is not JSON", "{not json", "invalid_client_metadata"],
  ];
  for (const [name, body, error] of refused) {
    it(`refuses ${name} with 400 ${error}`, async () => {
      const t = await serverUnderTest();
      const response = await registerRaw(t.server.origin, body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe(error);
    });
  }

  it("accepts a reverse-domain private-use scheme for a native client and https anywhere", async () => {
    const t = await serverUnderTest();
    const client = await t.register({ application_type: "native", redirect_uris: ["com.example.app:/oauth2redirect", "https://app.example.com/cb"] });
    expect(client.redirect_uris).toHaveLength(2);
  });

  it("refuses a non-JSON content type", async () => {
    const t = await serverUnderTest();
    const response = await registerRaw(t.server.origin, `redirect_uris=${REDIRECT_URI}`, "application/x-www-form-urlencoded");
    expect(response.status).toBe(400);
  });

  it("refuses a body over 64 KiB with 413", async () => {
    const t = await serverUnderTest();
    const response = await registerRaw(t.server.origin, { redirect_uris: [REDIRECT_URI], client_name: "x".repeat(70_000) });
    expect(response.status).toBe(413);
  });

  it("calls the policy hook with the metadata and refuses with 403 when it says no (S9)", async () => {
    const seen: unknown[] = [];
    const t = await serverUnderTest({
      clientRegistration: {
        enabled: true,
        validScopes: ["mcp:tools"],
        allow: (metadata, request) => {
          seen.push(metadata.client_name);
          return request.headers.get("authorization") === "Bearer initial-access-token";
        },
      },
    });
    const refused = await registerRaw(t.server.origin, { client_name: "A", redirect_uris: [REDIRECT_URI] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe("access_denied");
    const allowed = await fetch(`${t.server.origin}/register`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer initial-access-token" },
      body: JSON.stringify({ client_name: "B", redirect_uris: [REDIRECT_URI] }),
    });
    expect(allowed.status).toBe(201);
    expect(seen).toEqual(["A", "B"]);
  });

  it("is not served when registration is disabled, and the metadata does not advertise it", async () => {
    const t = await serverUnderTest({ clientRegistration: { enabled: false, validScopes: ["mcp:tools"] } });
    expect((await registerRaw(t.server.origin, { redirect_uris: [REDIRECT_URI] })).status).toBe(404);
    const metadata = (await (await fetch(t.url("/.well-known/oauth-authorization-server"))).json()) as Record<string, unknown>;
    expect(metadata).not.toHaveProperty("registration_endpoint");
  });
});
