import * as oauth from "oauth4webapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSdkAuthServer, type SdkAuthServer, type SdkAuthServerOptions } from "./sdk-auth-server.js";

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT_URI = "http://127.0.0.1:9/callback";

let server: SdkAuthServer;
async function start(options: SdkAuthServerOptions = {}): Promise<SdkAuthServer> {
  await server?.close();
  server = await startSdkAuthServer(options);
  return server;
}
beforeEach(async () => {
  await start({ scopesSupported: ["mcp:tools", "mcp:admin"] });
});
afterEach(async () => {
  await server.close();
});

async function discover(): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure });
  return oauth.processDiscoveryResponse(issuer, response);
}

async function register(as: oauth.AuthorizationServer): Promise<oauth.Client> {
  const response = await fetch(as.registration_endpoint!, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "peer test", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { client_id: string; client_secret?: string };
  expect(body.client_secret).toBeUndefined();
  return { client_id: body.client_id, token_endpoint_auth_method: "none" };
}

/** Authorize with `fetch` (redirect: manual) and redeem the code with PKCE. */
async function login(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  scope?: string,
): Promise<oauth.TokenEndpointResponse> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: "code",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource: server.mcpUrl,
    ...(scope ? { scope } : {}),
  }).toString();
  const redirect = await fetch(url, { redirect: "manual" });
  expect(redirect.status).toBe(302);
  const location = new URL(redirect.headers.get("location")!);
  expect(location.searchParams.get("iss")).toBe(server.issuer);
  const params = oauth.validateAuthResponse(as, client, location, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
    ...insecure,
    additionalParameters: { resource: server.mcpUrl },
  });
  return oauth.processAuthorizationCodeResponse(as, client, response);
}

function refresh(as: oauth.AuthorizationServer, client: oauth.Client, refreshToken: string): Promise<Response> {
  return oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, insecure);
}

function mcp(accessToken: string | undefined, body: unknown): Promise<Response> {
  return fetch(server.mcpUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "peer-test", version: "0" } },
};

/** The stateless transport answers over SSE by default; pull the JSON-RPC message out of it. */
async function rpcResult(response: Response): Promise<unknown> {
  const text = await response.text();
  const data = text.split("\n").find((line) => line.startsWith("data: "));
  return (JSON.parse(data ? data.slice("data: ".length) : text) as { result: unknown }).result;
}

describe("sdk-auth-server peer", () => {
  it("serves AS metadata with the iss flag and S256, and PRM for /mcp", async () => {
    const as = await discover();
    expect(as.issuer).toBe(`${server.origin}/`);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    expect(as.registration_endpoint).toBe(`${server.origin}/register`);

    const prmResponse = await fetch(`${server.origin}/.well-known/oauth-protected-resource/mcp`);
    expect(prmResponse.status).toBe(200);
    expect(await prmResponse.json()).toEqual({
      resource: server.mcpUrl,
      authorization_servers: [server.issuer],
      scopes_supported: ["mcp:tools", "mcp:admin"],
    });
  });

  it("applies metadata overrides and drops the iss flag when sendIss is false", async () => {
    await start({
      sendIss: false,
      metadataOverrides: { code_challenge_methods_supported: undefined, extra: 1 },
      prmOverrides: { authorization_servers: ["https://elsewhere.example/"] },
    });
    const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata).not.toHaveProperty("code_challenge_methods_supported");
    expect(metadata).not.toHaveProperty("authorization_response_iss_parameter_supported");
    expect(metadata.extra).toBe(1);
    const prm = (await (await fetch(`${server.origin}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<
      string,
      unknown
    >;
    expect(prm.authorization_servers).toEqual(["https://elsewhere.example/"]);
  });

  it("runs DCR, authorize, PKCE token exchange and an authenticated MCP call", async () => {
    const as = await discover();
    const client = await register(as);
    const tokens = await login(as, client, "mcp:tools");
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.scope).toBe("mcp:tools");
    expect(tokens.refresh_token).toBeTypeOf("string");

    const info = await server.provider.verifyAccessToken(tokens.access_token);
    expect(info.resource?.href).toBe(server.mcpUrl);
    expect(info.clientId).toBe(client.client_id);

    const init = await mcp(tokens.access_token, initialize);
    expect(init.status).toBe(200);
    expect(await rpcResult(init)).toMatchObject({ serverInfo: { name: "mcp-oauth-provider-example" } });

    const call = await mcp(tokens.access_token, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "add", arguments: { a: 2, b: 3 } },
    });
    expect(call.status).toBe(200);
    expect(await rpcResult(call)).toEqual({ content: [{ type: "text", text: "5" }] });

    // Bodies are recorded even though the SDK's routers parse them.
    const registration = server.requests.find((r) => r.path === "/register");
    expect(registration?.json).toMatchObject({ client_name: "peer test", redirect_uris: [REDIRECT_URI] });
    const tokenRequest = server.requests.find((r) => r.path === "/token");
    expect(tokenRequest?.form).toMatchObject({ grant_type: "authorization_code", client_id: client.client_id });
    expect(tokenRequest?.form.code_verifier).toBeTypeOf("string");
    expect(server.requests.find((r) => r.path === "/authorize")?.query.code_challenge_method).toBe("S256");
    expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${tokens.access_token}`);
    expect(server.count("/token")).toBe(1);
    expect(server.count((r) => r.path === "/mcp" && r.method === "POST")).toBe(2);
    expect(server.tokensIssued()).toEqual([tokens.access_token, tokens.refresh_token]);
  });

  it("answers unauthenticated /mcp with 401 and a resource_metadata pointer", async () => {
    const response = await mcp(undefined, initialize);
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toContain(`resource_metadata="${server.origin}/.well-known/oauth-protected-resource/mcp"`);
    expect(challenge).toContain('error="invalid_token"');
  });

  it("rotates refresh tokens; replaying a rotated one fails and revokes the whole grant", async () => {
    const as = await discover();
    const client = await register(as);
    const first = await login(as, client);
    expect(first.scope).toBe("mcp:tools mcp:admin");

    const second = await oauth.processRefreshTokenResponse(as, client, await refresh(as, client, first.refresh_token!));
    expect(second.refresh_token).toBeTypeOf("string");
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await mcp(second.access_token, initialize)).status).toBe(200);

    const replay = await refresh(as, client, first.refresh_token!);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });

    const afterReplay = await refresh(as, client, second.refresh_token!);
    expect(afterReplay.status).toBe(400);
    expect(await afterReplay.json()).toMatchObject({ error: "invalid_grant" });
    const rejected = await mcp(second.access_token, initialize);
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("lets a refresh narrow scopes but not widen them", async () => {
    const as = await discover();
    const client = await register(as);
    const tokens = await login(as, client, "mcp:tools");
    const widened = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, {
      ...insecure,
      additionalParameters: { scope: "mcp:tools mcp:admin" },
    });
    expect(widened.status).toBe(400);
    expect(await widened.json()).toMatchObject({ error: "invalid_scope" });
  });

  it("injects refresh, authorize and delay faults", async () => {
    const as = await discover();
    const client = await register(as);
    const tokens = await login(as, client);

    server.faults.refresh = "server_error";
    const failed = await refresh(as, client, tokens.refresh_token!);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ error: "server_error" });

    server.faults.refresh = "invalid_grant";
    expect((await refresh(as, client, tokens.refresh_token!)).status).toBe(400);

    // Faults leave stored tokens alone, so the same refresh token still works afterwards.
    server.faults.refresh = undefined;
    server.faults.tokenDelayMs = 200;
    const started = Date.now();
    await oauth.processRefreshTokenResponse(as, client, await refresh(as, client, tokens.refresh_token!));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    server.faults.authorizeError = { error: "access_denied", error_description: "nope" };
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
      response_type: "code",
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: "S256",
      state: "s1",
    }).toString();
    const location = new URL((await fetch(url, { redirect: "manual" })).headers.get("location")!);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: "access_denied",
      error_description: "nope",
      state: "s1",
      iss: server.issuer,
    });
  });

  it("revokes all access tokens and forgets clients on demand", async () => {
    const as = await discover();
    const client = await register(as);
    const tokens = await login(as, client);
    server.revokeAllAccessTokens();
    expect((await mcp(tokens.access_token, initialize)).status).toBe(401);

    server.forgetClients();
    const response = await refresh(as, client, tokens.refresh_token!);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_client" });
  });
});
