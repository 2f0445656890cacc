/**
 * What each grant sends to the token endpoint, and what its failures say. Client credentials and the
 * enterprise-managed jwt-bearer grant (SEP-990) must send the MCP server's RFC 8707 `resource` (and the
 * scope when there is one); a failure carries the grant's own code and names the step and the token
 * endpoint; a server that echoes the refresh token or the identity assertion in `error_description` does
 * not get it printed. Everything runs against a loopback authorization server (test/support/hostile-server.ts)
 * through the public `OAuth` API, except the lifetime cap, checked on `toTokenRecord` with a literal.
 */
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError, OAuth, type OAuthError, type OAuthOptions } from "../src/index.js";
import { toTokenRecord } from "../src/flow/request-tokens.js";
import { good, hostileServer, SECRET, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The ID-JAG the identity provider (a route of the same loopback server) issues: a secret of its own. */
const assertion = "IDJAG-SECRET-4e7a21";
const idJag = { access_token: assertion, issued_token_type: "urn:ietf:params:oauth:token-type:id-jag", token_type: "N_A" };

/** `options` may depend on the server's origin, known only once it listens (the identity provider is a route of it). */
async function start(answers: HostileAnswers, options: Partial<OAuthOptions> | ((origin: string) => Partial<OAuthOptions>), clock = { now: Date.now() }) {
  server = await hostileServer(answers);
  const logger = captureLogger();
  const oauth = new OAuth({
    mcpUrl: server.mcpUrl,
    tokenStorage: new Keyv(),
    logger,
    now: () => clock.now,
    callbackTimeoutMs: 5_000,
    // The browser: follows the authorization server's redirect to the library's loopback callback.
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
    ...(typeof options === "function" ? options(server.origin) : options),
  });
  return { server, oauth, logger, clock };
}

const machine = { grant: "client_credentials", clientId: "m2m", clientSecret: SECRET.client } as const;

function enterprise(origin: string): Partial<OAuthOptions> {
  return {
    grant: "enterprise_managed",
    clientId: "mcp-client",
    clientSecret: SECRET.client,
    identityProvider: { tokenEndpoint: `${origin}/idp/token`, clientId: "idp-client", idToken: "id-token-of-the-user" },
  };
}

/** The form bodies of the requests to the authorization server's token endpoint, in order. */
function tokenForms(s: HostileServer): URLSearchParams[] {
  return s.seen.filter((r) => r.path === "/token").map((r) => new URLSearchParams(r.body));
}

async function failure(run: () => Promise<unknown>): Promise<OAuthError> {
  const error = await run().then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  if (!isOAuthError(error)) throw new Error(`expected an OAuthError, got ${String(error)}`, { cause: error });
  return error;
}

describe("client credentials: what goes to the token endpoint", () => {
  it("sends grant_type, the MCP server as resource and the configured scope", async () => {
    const s = await start({}, { ...machine, scopes: "mcp:read mcp:write" });
    expect(await s.oauth.getAccessToken()).toBe(good.access_token);
    const [form, ...more] = tokenForms(s.server);
    expect(more).toEqual([]);
    expect(form?.get("grant_type")).toBe("client_credentials");
    expect(form?.get("resource")).toBe(s.server.mcpUrl);
    expect(form?.get("scope")).toBe("mcp:read mcp:write");
  });

  it("sends the resource without a scope when none is configured", async () => {
    const s = await start({}, machine);
    expect(await s.oauth.getAccessToken()).toBe(good.access_token);
    const [form] = tokenForms(s.server);
    expect(form?.get("resource")).toBe(s.server.mcpUrl);
    expect(form?.has("scope")).toBe(false);
  });

  it("a refusal is token_exchange_failed, naming the step and the token endpoint", async () => {
    const s = await start({ token: { status: 400, body: { error: "invalid_scope" } } }, machine);
    const error = await failure(() => s.oauth.getAccessToken());
    expect(error.code).toBe("token_exchange_failed");
    expect(error.oauthError).toBe("invalid_scope");
    expect(error.message).toContain(`requesting a client_credentials token at ${s.server.origin}/token`);
  });
});

describe("enterprise-managed (SEP-990): the identity assertion at the authorization server", () => {
  it("presents the ID-JAG with the jwt-bearer grant, the resource and the scope", async () => {
    const t = await start({ routes: { "/idp/token": { body: idJag } } }, (origin) => ({ ...enterprise(origin), scopes: "mcp:read" }));
    expect(await t.oauth.getAccessToken()).toBe(good.access_token);
    const [form, ...more] = tokenForms(t.server);
    expect(more).toEqual([]);
    expect(form?.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    expect(form?.get("assertion")).toBe(assertion);
    expect(form?.get("resource")).toBe(t.server.mcpUrl);
    expect(form?.get("scope")).toBe("mcp:read");
  });

  it("a refusal echoing the assertion is token_exchange_failed, names the step, and never prints the assertion", async () => {
    const refusal = { status: 400, body: { error: "invalid_grant", error_description: `assertion ${assertion} is expired` } };
    const t = await start({ token: refusal, routes: { "/idp/token": { body: idJag } } }, enterprise);
    const error = await failure(() => t.oauth.getAccessToken());
    expect(error.code).toBe("token_exchange_failed");
    expect(error.oauthError).toBe("invalid_grant");
    expect(error.message).toContain(`presenting the identity assertion at ${t.server.origin}/token`);
    expect(error.message).toContain("[redacted] is expired");
    expect(`${error.message}\n${t.logger.lines.join("\n")}`).not.toContain(assertion);
    // The assertion did reach the server: the redaction, not a missing request, keeps it out.
    expect(tokenForms(t.server)[0]?.get("assertion")).toBe(assertion);
  });
});

describe("authorization code and refresh failures name their step and keep their secrets", () => {
  it("a refused code exchange names the step and the token endpoint", async () => {
    const s = await start({ token: { status: 400, body: { error: "invalid_grant" } } }, {});
    const error = await failure(() => s.oauth.getAccessToken());
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toContain(`exchanging the authorization code at ${s.server.origin}/token`);
  });

  it("a failed refresh echoing the refresh token names the step and prints [redacted] instead", async () => {
    // A 429 whose Retry-After is too long to wait for: the refresh fails at once, transient, and the stored
    // tokens stay (a 400 would be followed by a login; oauth4webapi reads an error body only on a 4xx).
    const echo = { status: 429, headers: { "retry-after": "3600" }, body: { error: "slow_down", error_description: `cannot use ${good.refresh_token} now` } };
    const s = await start({ later: echo }, {});
    await s.oauth.getAccessToken();
    s.clock.now += 10_000; // the first token (1 s) has expired: the next call refreshes
    const error = await failure(() => s.oauth.getAccessToken());
    expect(error.code).toBe("refresh_failed");
    expect(tokenForms(s.server)[1]?.get("refresh_token")).toBe(good.refresh_token);
    expect(error.message).toContain(`refreshing the access token at ${s.server.origin}/token`);
    expect(error.message).toContain("cannot use [redacted] now");
    expect(`${error.message}\n${s.logger.lines.join("\n")}`).not.toContain(SECRET.refresh);
  });

  it("a DPoP-bound token is refused with a message that says so and names the token endpoint", async () => {
    const s = await start({ token: { body: { ...good, token_type: "DPoP" } } }, {});
    const error = await failure(() => s.oauth.getAccessToken());
    expect(error.code).toBe("dpop_unsupported");
    expect(error.message).toContain(`exchanging the authorization code at ${s.server.origin}/token: the server issued a DPoP-bound token`);
    expect(error.message).not.toContain(SECRET.access);
  });
});

describe("the longest token life believed", () => {
  it("is 365 days: an absurd expires_in is stored as obtained + 31 536 000 s", () => {
    const record = toTokenRecord({ access_token: "a", token_type: "bearer", expires_in: 1e306 }, 1_000, undefined);
    expect(record.expires_at).toBe(1_000 + 31_536_000_000);
  });
});
