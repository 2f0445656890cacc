/**
 * The authorization_code grant on its own (authorizationCodeGrant with recording deps): what each refusal
 * says, the code's and the grant's expiry at their exact millisecond, and the revocation a replay causes,
 * after the code expired too.
 */
import { describe, expect, it } from "vitest";
import { authorizationCodeGrant, type CodeGrantDeps } from "../../src/server/grant-authorization-code.js";
import { OAuthServerError, hashToken, type AuthorizationCode, type RegisteredClient, type Revocation } from "../../src/server/index.js";
import { resolveProviderOptions } from "../../src/server/options.js";
import { pkce, preRegistered, REDIRECT_URI } from "./support.js";

const t0 = 1_700_000_000_000;
const clock = { now: t0 };
const o = resolveProviderOptions({ baseUrl: "http://127.0.0.1:1", now: () => clock.now, onError: () => undefined });
const client: RegisteredClient = preRegistered("c", { grant_types: ["authorization_code", "refresh_token"] });
const { verifier, challenge } = pkce();

function setup(extra: Partial<AuthorizationCode> = {}) {
  clock.now = t0;
  const code: AuthorizationCode = {
    id: hashToken("the-code"),
    grantId: "g",
    clientId: "c",
    scopes: [],
    resource: o.resource,
    subject: "user",
    grantExpiresAt: t0 + 3_600_000,
    redirectUri: REDIRECT_URI,
    redirectUriProvidedExplicitly: true,
    codeChallenge: challenge,
    expiresAt: t0 + 300_000,
    ...extra,
  };
  const revoked: Revocation[] = [];
  const deps: CodeGrantDeps = {
    loadAuthorizationCode: async (id) => (id === code.id ? code : undefined),
    exchangeAuthorizationCode: async () => code.consumedAt === undefined,
    revokeToken: async (revocation) => void revoked.push(revocation),
  };
  const redeem = (form: Record<string, string | undefined> = {}) => {
    const fields = { code: "the-code", code_verifier: verifier, redirect_uri: REDIRECT_URI, ...form };
    const map = new Map(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return authorizationCodeGrant(client, map, o, deps).catch((error: unknown) => {
      if (error instanceof OAuthServerError) return error;
      throw error;
    });
  };
  return { redeem, revoked };
}

const refused = (error: string, description: string) => expect.objectContaining({ error, description });
const unusable = "the authorization code is invalid, expired, already used or was issued to another client";

describe("authorizationCodeGrant", () => {
  it("says what is missing or wrong", async () => {
    const { redeem } = setup();
    expect(await redeem({ code: undefined })).toEqual(refused("invalid_request", "code is required"));
    expect(await redeem({ code_verifier: undefined })).toEqual(refused("invalid_request", "code_verifier is required (PKCE)"));
    expect(await redeem({ code: "another" })).toEqual(refused("invalid_grant", unusable));
    expect(await redeem({ redirect_uri: undefined })).toEqual(refused("invalid_request", "redirect_uri is required: the authorization request had one"));
    expect(await redeem({ redirect_uri: "http://127.0.0.1:9/other" })).toEqual(refused("invalid_grant", "redirect_uri differs from the one in the authorization request"));
    expect(await redeem({ code_verifier: pkce().verifier })).toEqual(refused("invalid_grant", "code_verifier does not match the code_challenge"));
    expect(await redeem({ resource: "http://127.0.0.1:2/mcp" })).toEqual(refused("invalid_target", "resource differs from the one the code was issued for"));
    expect(await redeem()).toHaveProperty("access_token");
  });

  it("a code is refused from its expiry on, and so is one whose grant ended first", async () => {
    const early = setup();
    clock.now = t0 + 299_999;
    expect(await early.redeem()).toHaveProperty("access_token");
    const due = setup();
    clock.now = t0 + 300_000;
    expect(await due.redeem()).toEqual(refused("invalid_grant", unusable));
    const grantEnded = setup({ grantExpiresAt: t0 + 60_000 });
    clock.now = t0 + 60_000;
    expect(await grantEnded.redeem()).toEqual(refused("invalid_grant", unusable));
  });

  it("a consumed code presented with its verifier revokes its grant, even once the code has expired", async () => {
    for (const at of [t0 + 1000, t0 + 400_000]) {
      const { redeem, revoked } = setup({ consumedAt: t0 });
      clock.now = at;
      expect(await redeem()).toEqual(refused("invalid_grant", unusable));
      expect(revoked).toEqual([{ type: "grant", grantId: "g", clientId: "c", reason: "code_reuse" }]);
    }
  });
});
