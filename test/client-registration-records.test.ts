/**
 * The client records registration produces and reuses, one function at a time: what a dynamic
 * registration asks for (the authentication method a server that refuses public clients gets, the scope),
 * what is kept of the server's answer when it leaves fields out (redirect URIs, the method, a secret's
 * expiry), the record of a pre-registered or CIMD client, and when a stored registration's secret counts
 * as expired (a minute early, and never for a public client or a secret that does not expire).
 */
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { isOAuthError, type OAuthOptions } from "../src/index.js";
import { resolveOptions } from "../src/options.js";
import { configuredClient, isUsableRegistration, registerClient } from "../src/flow/register-client.js";
import type { AuthorizationServerMetadata } from "../src/store/token-store.js";
import { hostileServer, type Answer, type HostileServer } from "./support/hostile-server.js";
import { cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();
const redirect = "http://127.0.0.1:4000/callback";

async function server(register?: Answer | Answer[]): Promise<HostileServer> {
  const s = await hostileServer(register ? { register } : {});
  closeLater(s.close);
  return s;
}

function metadata(s: HostileServer, extra: Partial<AuthorizationServerMetadata> = {}): AuthorizationServerMetadata {
  return { issuer: s.origin, authorization_endpoint: `${s.origin}/authorize`, token_endpoint: `${s.origin}/token`, registration_endpoint: `${s.origin}/register`, ...extra };
}

const options = (extra: Partial<OAuthOptions> = {}) => resolveOptions({ mcpUrl: "http://127.0.0.1:1/mcp", tokenStorage: new Keyv(), ...extra });

/** The JSON body of the server's only registration request. */
const sent = (s: HostileServer): Record<string, unknown> => {
  const requests = s.seen.filter((r) => r.path === "/register");
  expect(requests).toHaveLength(1);
  return JSON.parse(requests[0]?.body ?? "") as Record<string, unknown>;
};

describe("what a dynamic registration asks for", () => {
  it("the method: none when the server lists it or lists nothing; a secret-based one when it refuses public clients", async () => {
    const cases: [string[] | undefined, string][] = [
      [undefined, "none"],
      [["client_secret_basic", "none"], "none"],
      [["client_secret_basic"], "client_secret_basic"],
      [["client_secret_basic", "client_secret_post"], "client_secret_post"],
    ];
    for (const [methods, expected] of cases) {
      const s = await server();
      await registerClient(metadata(s, methods ? { token_endpoint_auth_methods_supported: methods } : {}), redirect, options(), fetch);
      expect(sent(s).token_endpoint_auth_method).toBe(expected);
    }
  });

  it("the configured scopes, space-separated, when no scope is given; none at all without scopes", async () => {
    const s = await server();
    await registerClient(metadata(s), redirect, options({ scopes: ["read", "write"] }), fetch);
    expect(sent(s).scope).toBe("read write");
    const bare = await server();
    await registerClient(metadata(bare), redirect, options(), fetch);
    expect(sent(bare)).not.toHaveProperty("scope");
    expect(sent(bare).redirect_uris).toEqual([redirect]);
  });

  it("no registration endpoint: registration_failed, nothing sent", async () => {
    const s = await server();
    const error = await registerClient(metadata(s, { registration_endpoint: undefined }) as AuthorizationServerMetadata, redirect, options(), fetch).catch((e: unknown) => e);
    expect(isOAuthError(error, "registration_failed")).toBe(true);
    // Our own explanation, naming the way out, not oauth4webapi's complaint about a missing endpoint.
    expect((error as Error).message).toBe(
      `authorization server ${s.origin} offers no dynamic registration and no client is configured; pass \`clientId\` (and \`clientSecret\`) or \`clientMetadataUrl\``,
    );
    expect(s.seen).toHaveLength(0);
  });

  it("a failed registration names its endpoint, and says it gave up only when it did", async () => {
    const s = await server({ status: 400, body: { error: "invalid_client_metadata", error_description: "no" } });
    const error = (await registerClient(metadata(s), redirect, options(), fetch).catch((e: unknown) => e)) as Error;
    expect(isOAuthError(error, "registration_failed")).toBe(true);
    expect(error.message).toBe(`dynamic client registration at ${s.origin}/register: server answered 400 invalid_client_metadata: no`);
  });
});

describe("what is kept of the server's answer", () => {
  it("redirect_uris left out: the one registered; given: the server's", async () => {
    const s = await server([
      { status: 201, body: { client_id: "a" } },
      { status: 201, body: { client_id: "b", redirect_uris: ["http://127.0.0.1:5000/callback"] } },
    ]);
    expect((await registerClient(metadata(s), redirect, options(), fetch)).redirect_uris).toEqual([redirect]);
    expect((await registerClient(metadata(s), redirect, options(), fetch)).redirect_uris).toEqual(["http://127.0.0.1:5000/callback"]);
  });

  it("token_endpoint_auth_method left out: none without a secret, the method asked for with one", async () => {
    const as = (s: HostileServer) => metadata(s, { token_endpoint_auth_methods_supported: ["client_secret_post"] });
    const s = await server([
      { status: 201, body: { client_id: "public" } },
      { status: 201, body: { client_id: "confidential", client_secret: "CS-1", client_secret_expires_at: 0 } },
      { status: 201, body: { client_id: "told", client_secret: "CS-2", client_secret_expires_at: 0, token_endpoint_auth_method: "client_secret_basic" } },
    ]);
    expect((await registerClient(as(s), redirect, options(), fetch)).token_endpoint_auth_method).toBe("none");
    expect((await registerClient(as(s), redirect, options(), fetch)).token_endpoint_auth_method).toBe("client_secret_post");
    expect((await registerClient(as(s), redirect, options(), fetch)).token_endpoint_auth_method).toBe("client_secret_basic");
  });

  it("a secret without client_secret_expires_at (RFC 7591 requires it) is read as never expiring; a given expiry is kept", async () => {
    const s = await server([
      { status: 201, body: { client_id: "a", client_secret: "CS-a" } },
      { status: 201, body: { client_id: "b", client_secret: "CS-b", client_secret_expires_at: 2_000_000_000 } },
      { status: 201, body: { client_id: "c" } },
    ]);
    expect(await registerClient(metadata(s), redirect, options(), fetch)).toMatchObject({ client_id: "a", client_secret: "CS-a", client_secret_expires_at: 0 });
    expect(await registerClient(metadata(s), redirect, options(), fetch)).toMatchObject({ client_id: "b", client_secret_expires_at: 2_000_000_000 });
    expect(await registerClient(metadata(s), redirect, options(), fetch)).not.toHaveProperty("client_secret_expires_at");
  });

  it("a 201 whose JSON is not an object is refused as such, never read as one", async () => {
    for (const body of ["null", "[]", '"client"', "5"]) {
      const s = await server({ status: 201, body, type: "application/json" });
      const error = (await registerClient(metadata(s), redirect, options(), fetch).catch((e: unknown) => e)) as Error;
      expect(isOAuthError(error, "registration_failed")).toBe(true);
      // oauth4webapi's own check speaks; reading a field of `null` would have thrown a TypeError first.
      const chain = [error, error.cause].map((e) => (e instanceof Error ? e.message : String(e))).join(" | ");
      expect(chain).not.toMatch(/Cannot read properties/);
      expect(chain).toMatch(/object/i);
    }
  });

  it("an error answer is still an error (status kept), whatever its body", async () => {
    const s = await server([
      { status: 400, body: { error: "invalid_client_metadata", client_secret: "CS-x" } },
      { status: 200, body: { client_id: "not-201", client_secret: "CS-y" } },
    ]);
    for (let i = 0; i < 2; i += 1) {
      const error = await registerClient(metadata(s), redirect, options(), fetch).catch((e: unknown) => e);
      expect(isOAuthError(error, "registration_failed")).toBe(true);
      expect(String(error)).not.toContain("CS-");
    }
  });
});

describe("configured clients", () => {
  const as = { issuer: "https://as.example.com", token_endpoint_auth_methods_supported: ["client_secret_post"] };
  const base = { clientSecret: undefined, signingKey: undefined, clientMetadataUrl: undefined, additionalClientMetadata: {} };

  it("a pre-registered client: the configured method wins, then private_key_jwt with a key; the redirect URI; no secret key without a secret", () => {
    expect(configuredClient({ ...base, clientId: "c", clientSecret: "s", additionalClientMetadata: { token_endpoint_auth_method: "client_secret_basic" } }, as, redirect)).toEqual({
      source: "pre-registered",
      record: { client_id: "c", client_secret: "s", token_endpoint_auth_method: "client_secret_basic", redirect_uris: [redirect] },
    });
    const withKey = configuredClient({ ...base, clientId: "c", signingKey: {} as never }, as, redirect);
    expect(withKey?.record.token_endpoint_auth_method).toBe("private_key_jwt");
    const bare = configuredClient({ ...base, clientId: "c" }, as, redirect);
    expect(bare?.record).toEqual({ client_id: "c", token_endpoint_auth_method: "none", redirect_uris: [redirect] });
    expect(bare?.record).not.toHaveProperty("client_secret");
  });

  it("a CIMD client only where the server says it supports CIMD, as a public client", () => {
    const url = "https://client.example.com/metadata.json";
    expect(configuredClient({ ...base, clientId: undefined, clientMetadataUrl: url }, { ...as, client_id_metadata_document_supported: true }, redirect)).toEqual({
      source: "metadata-document",
      record: { client_id: url, token_endpoint_auth_method: "none", redirect_uris: [redirect] },
    });
    for (const supported of [undefined, false, "true"]) {
      const metadataOf = supported === undefined ? as : { ...as, client_id_metadata_document_supported: supported as never };
      expect(configuredClient({ ...base, clientId: undefined, clientMetadataUrl: url }, metadataOf, redirect)).toBeUndefined();
    }
    expect(configuredClient({ ...base, clientId: undefined }, { ...as, client_id_metadata_document_supported: true }, redirect)).toBeUndefined();
  });
});

describe("when a stored registration's secret counts as expired", () => {
  const now = 1_700_000_000_000;
  const client = (extra: Record<string, unknown>) => ({ client_id: "c", redirect_uris: [redirect], ...extra });

  it("from a minute before client_secret_expires_at on", () => {
    const at = (ms: number) => Math.floor((now + ms) / 1000);
    expect(isUsableRegistration(client({ client_secret: "s", client_secret_expires_at: at(61_000) }), redirect, now)).toBe(true);
    expect(isUsableRegistration(client({ client_secret: "s", client_secret_expires_at: at(60_000) }), redirect, now)).toBe(false);
    expect(isUsableRegistration(client({ client_secret: "s", client_secret_expires_at: at(60_000) }), redirect, now - 1)).toBe(true);
    expect(isUsableRegistration(client({ client_secret: "s", client_secret_expires_at: at(-3_600_000) }), redirect, now)).toBe(false);
  });

  it("never when the secret does not expire (0 or left out), nor for a public client", () => {
    expect(isUsableRegistration(client({ client_secret: "s", client_secret_expires_at: 0 }), redirect, now)).toBe(true);
    expect(isUsableRegistration(client({ client_secret: "s" }), redirect, now)).toBe(true);
    expect(isUsableRegistration(client({ client_secret_expires_at: 1 }), redirect, now)).toBe(true);
  });

  it("the scope check compares whole scope tokens", () => {
    expect(isUsableRegistration(client({ scope: "mcp:tools mcp:admin" }), redirect, now, "mcp:admin")).toBe(true);
    expect(isUsableRegistration(client({ scope: "mcp:tools mcp:admin" }), redirect, now, "mcp:tools mcp:admin")).toBe(true);
    expect(isUsableRegistration(client({ scope: "mcp:tools" }), redirect, now, "mcp")).toBe(false);
  });

  it("the scope check ignores empty scope tokens", () => {
    expect(isUsableRegistration(client({ scope: "a b" }), redirect, now, "a  b")).toBe(true);
    expect(isUsableRegistration(client({ scope: "a b" }), redirect, now, "")).toBe(true);
    expect(isUsableRegistration(client({ scope: "a b" }), redirect, now, "a c")).toBe(false);
  });
});
