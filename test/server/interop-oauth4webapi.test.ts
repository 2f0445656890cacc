import * as oauth from "oauth4webapi";
import { describe, expect, it } from "vitest";
import { serverUnderTest } from "./support.js";

/**
 * oauth4webapi (panva), used directly, as an independent client: it validates the metadata's issuer,
 * the 201 registration, the RFC 9207 `iss` of the authorization response, and every token response.
 */
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT_URI = "http://127.0.0.1:9/callback";

/** Sends the user agent to the authorization endpoint (without following the redirect) and returns where it was sent. */
async function authorize(as: oauth.AuthorizationServer, clientId: string, params: Record<string, string>): Promise<URL> {
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: "code", ...params }).toString();
  const redirect = await fetch(url, { redirect: "manual" });
  expect(redirect.status).toBe(302);
  return new URL(redirect.headers.get("location")!);
}

describe("interop: oauth4webapi as the client", () => {
  it("discovers, registers, authorizes with PKCE, redeems, refreshes, calls the MCP endpoint and revokes", async () => {
    const t = await serverUnderTest();
    const issuer = new URL(t.server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
    expect(as.authorization_response_iss_parameter_supported).toBe(true);

    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: "oauth4webapi", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] },
        insecure,
      ),
    );
    const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: "none" };

    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const location = await authorize(as, client.client_id, {
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      scope: "mcp:tools",
      resource: t.server.mcpUrl,
    });
    // Checks iss (RFC 9207) and state, and refuses error responses.
    const params = oauth.validateAuthResponse(as, client, location, state);

    const first = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, { ...insecure, additionalParameters: { resource: t.server.mcpUrl } }),
    );
    expect(first.token_type).toBe("bearer");
    expect(first.scope).toBe("mcp:tools");
    expect((await t.mcp(first.access_token)).status).toBe(200);

    const second = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, insecure));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await t.mcp(second.access_token)).status).toBe(200);

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), second.refresh_token!, insecure));
    expect((await t.mcp(second.access_token)).status).toBe(401);
    const afterRevoke = oauth.refreshTokenGrantRequest(as, client, oauth.None(), second.refresh_token!, insecure).then((r) => oauth.processRefreshTokenResponse(as, client, r));
    await expect(afterRevoke).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("oauth4webapi sees an error redirect with the right iss, and a confidential client authenticates with client_secret_basic", async () => {
    const t = await serverUnderTest();
    const issuer = new URL(t.server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "client_secret_basic" }, insecure),
    );
    const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: "client_secret_basic" };
    const secret = registered.client_secret as string;

    const state = oauth.generateRandomState();
    const denied = await authorize(as, client.client_id, { state, scope: "nope" });
    expect(() => oauth.validateAuthResponse(as, client, denied, state)).toThrow(oauth.AuthorizationResponseError);

    const verifier = oauth.generateRandomCodeVerifier();
    const approved = await authorize(as, client.client_id, { code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", state });
    const params = oauth.validateAuthResponse(as, client, approved, state);
    const wrongSecret = oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic("wrong"), params, REDIRECT_URI, verifier, insecure).then((r) =>
      oauth.processAuthorizationCodeResponse(as, client, r),
    );
    // A 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2) surfaces as oauth4webapi's challenge error.
    const failure = await wrongSecret.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((failure as oauth.WWWAuthenticateChallengeError).status).toBe(401);
    expect((failure as oauth.WWWAuthenticateChallengeError).cause[0]?.scheme).toBe("basic");
    const result = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), params, REDIRECT_URI, verifier, insecure),
    );
    expect((await t.mcp(result.access_token)).status).toBe(200);
  });
});
