/**
 * Client authentication at /token and /revoke, one rule at a time (authenticateClient on its own): the
 * registered method and only it, one method per request, the Basic header's exact form and its
 * form-urlencoding, the secret's expiry at its exact second, and the one answer every failure gets.
 */
import { describe, expect, it } from "vitest";
import { authenticateClient } from "../../src/server/authenticate-client.js";
import { OAuthServerError, hashToken, type RegisteredClient } from "../../src/server/index.js";

const now = 1_700_000_000_000;
const clients: Record<string, RegisteredClient> = {
  basic: client("basic", "client_secret_basic", "s3cret"),
  post: client("post", "client_secret_post", "s3cret"),
  public: client("public", "none"),
  "a b": client("a b", "client_secret_basic", "s t"),
  expiring: client("expiring", "client_secret_basic", "s3cret", Math.floor(now / 1000) + 1),
};

function client(id: string, method: RegisteredClient["token_endpoint_auth_method"], secret?: string, expiresAt?: number): RegisteredClient {
  return {
    client_id: id,
    client_id_issued_at: 0,
    redirect_uris: ["http://127.0.0.1/cb"],
    token_endpoint_auth_method: method,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    ...(secret ? { client_secret_hash: hashToken(secret), client_secret_expires_at: expiresAt ?? 0 } : {}),
  };
}

const basic = (raw: string) => `Basic ${Buffer.from(raw).toString("base64")}`;

async function authenticate(form: Record<string, string>, authorization?: string, at = now): Promise<RegisteredClient | OAuthServerError> {
  const request = new Request("http://127.0.0.1/token", { method: "POST", headers: authorization ? { authorization } : {} });
  return authenticateClient(request, new Map(Object.entries(form)), async (id) => clients[id], at).catch((error: unknown) => {
    if (error instanceof OAuthServerError) return error;
    throw error;
  });
}

/** The refusal every failed authentication gets: one answer, so no client id can be probed. */
function expectFailed(result: RegisteredClient | OAuthServerError): void {
  expect(result).toBeInstanceOf(OAuthServerError);
  expect(result).toMatchObject({ error: "invalid_client", status: 401, description: "client authentication failed" });
}

describe("authenticateClient", () => {
  it("accepts each method as registered", async () => {
    expect(await authenticate({}, basic("basic:s3cret"))).toMatchObject({ client_id: "basic" });
    expect(await authenticate({ client_id: "post", client_secret: "s3cret" })).toMatchObject({ client_id: "post" });
    expect(await authenticate({ client_id: "public" })).toMatchObject({ client_id: "public" });
  });

  it("refuses every other method, a wrong secret, no client and an unknown one, with the same answer", async () => {
    expectFailed(await authenticate({ client_id: "basic", client_secret: "s3cret" }));
    expectFailed(await authenticate({}, basic("post:s3cret")));
    expectFailed(await authenticate({}, basic("public:x")));
    expectFailed(await authenticate({ client_id: "public", client_secret: "x" }));
    expectFailed(await authenticate({}, basic("basic:wrong")));
    expectFailed(await authenticate({}));
    expectFailed(await authenticate({ client_id: "nobody" }));
  });

  it("refuses two methods at once, and a form client_id other than the Basic one", async () => {
    const both = await authenticate({ client_secret: "s3cret" }, basic("basic:s3cret"));
    expect(both).toMatchObject({ error: "invalid_request", description: "use one client authentication method, not both" });
    const differs = await authenticate({ client_id: "post" }, basic("basic:s3cret"));
    expect(differs).toMatchObject({ error: "invalid_request", description: "client_id differs from the authenticated client" });
    expect(await authenticate({ client_id: "basic" }, basic("basic:s3cret"))).toMatchObject({ client_id: "basic" });
  });

  it("reads the Basic header only in its exact form, form-urlencoded inside (RFC 6749 §2.3.1)", async () => {
    expect(await authenticate({}, basic("a+b:s+t"))).toMatchObject({ client_id: "a b" });
    expect(await authenticate({}, basic("a%20b:s%20t"))).toMatchObject({ client_id: "a b" });
    // Not a Basic header: no client named at all.
    expectFailed(await authenticate({}, `X${basic("basic:s3cret")}`));
    expectFailed(await authenticate({}, `${basic("basic:s3cret")} trailing`));
    // A Basic header without a colon, or with broken percent-encoding.
    expectFailed(await authenticate({}, basic("basic")));
    expectFailed(await authenticate({}, basic("basic:%E0%A4%A")));
    // A broken Basic header is a failed authentication, not one that did not happen (the form's client is not taken instead).
    expectFailed(await authenticate({ client_id: "public" }, basic("public:%E0%A4%A")));
  });

  it("an expiring secret authenticates until client_secret_expires_at, and not at that second", async () => {
    expect(await authenticate({}, basic("expiring:s3cret"), now + 999)).toMatchObject({ client_id: "expiring" });
    const expired = await authenticate({}, basic("expiring:s3cret"), now + 1000);
    expect(expired).toMatchObject({ error: "invalid_client", description: "the client secret has expired; register again" });
  });
});
