/**
 * The bearer guard on its own (checkBearer): the exact form of the Authorization header it reads, the
 * challenge and headers of each refusal (RFC 6750 §3, RFC 9728 §5.1), the 503 of a store that failed, and
 * what it hands to the MCP transport.
 */
import { describe, expect, it } from "vitest";
import { resolveProviderOptions } from "../../src/server/options.js";
import { checkBearer } from "../../src/server/require-bearer.js";
import type { AccessToken } from "../../src/server/index.js";

const now = 1_700_000_000_000;
const o = resolveProviderOptions({ baseUrl: "http://127.0.0.1:1", requiredScopes: ["mcp:a", "mcp:b"], now: () => now, onError: () => undefined });
const metadata = "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp";

const record = (extra: Partial<AccessToken> = {}): AccessToken => ({
  id: "h",
  grantId: "g",
  clientId: "c",
  scopes: ["mcp:a", "mcp:b"],
  resource: o.resource,
  subject: "user",
  grantExpiresAt: now + 3_600_000,
  issuedAt: now,
  expiresAt: now + 60_500,
  ...extra,
});

const tokens: Record<string, AccessToken> = { tok: record(), other: record({ resource: "http://127.0.0.1:2/mcp" }), narrow: record({ scopes: ["mcp:a"] }), claims: record({ claims: { team: "x" } }) };
const verify = async (token: string) => tokens[token];

async function refusal(authorization: string | undefined, verifyToken = verify) {
  const check = await checkBearer(authorization, o, verifyToken);
  if (!check.response) throw new Error(`accepted: ${authorization}`);
  const { response } = check;
  const text = await response.text();
  return { status: response.status, headers: Object.fromEntries(response.headers), body: text ? (JSON.parse(text) as Record<string, string>) : undefined };
}

describe("checkBearer", () => {
  it("without credentials: 401, a challenge naming the metadata and the scope, no error, no body", async () => {
    for (const authorization of [undefined, "", "Basic dXNlcjpwdw==", "XBearer tok"]) {
      const r = await refusal(authorization);
      expect(r).toEqual({
        status: 401,
        body: undefined,
        headers: { "www-authenticate": `Bearer resource_metadata="${metadata}", scope="mcp:a mcp:b"`, "cache-control": "no-store", "access-control-expose-headers": "WWW-Authenticate" },
      });
    }
  });

  it("reads only `Bearer <token>` (any case, spaces around), refusing anything more as malformed, with a JSON body", async () => {
    for (const ok of ["Bearer tok", "bearer tok", "Bearer  tok", "Bearer tok  "]) expect((await checkBearer(ok, o, verify)).auth?.token).toBe("tok");
    for (const bad of ["Bearer tok extra", "Bearer x Bearer tok", "Bearer", "Bearer t\u00f6k"]) {
      const r = await refusal(bad);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: "invalid_token", error_description: "malformed Bearer credentials" });
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["www-authenticate"]).toBe(`Bearer error="invalid_token", error_description="malformed Bearer credentials", resource_metadata="${metadata}", scope="mcp:a mcp:b"`);
    }
  });

  it("a token for another resource, and one without the scopes, say which", async () => {
    expect((await refusal("Bearer other")).body).toEqual({ error: "invalid_token", error_description: "the access token was issued for another resource" });
    const narrow = await refusal("Bearer narrow");
    expect(narrow.status).toBe(403);
    expect(narrow.body).toEqual({ error: "insufficient_scope", error_description: "this endpoint needs the scope mcp:a mcp:b" });
  });

  it("a store that fails: 503 with Retry-After, never 401, as JSON, not cached", async () => {
    const r = await refusal("Bearer tok", async () => Promise.reject(new Error("store down")));
    expect(r).toEqual({
      status: 503,
      body: { error: "temporarily_unavailable", error_description: "the token could not be checked; try again shortly" },
      headers: { "content-type": "application/json", "cache-control": "no-store", "retry-after": "5" },
    });
  });

  it("hands over the caller: expiry in whole seconds, the grant, the subject and the claims", async () => {
    expect((await checkBearer("Bearer tok", o, verify)).auth).toEqual({
      token: "tok",
      clientId: "c",
      scopes: ["mcp:a", "mcp:b"],
      expiresAt: Math.floor((now + 60_500) / 1000),
      resource: new URL(o.resource),
      extra: { subject: "user", grantId: "g" },
    });
    expect((await checkBearer("Bearer claims", o, verify)).auth?.extra).toEqual({ subject: "user", grantId: "g", claims: { team: "x" } });
  });
});
