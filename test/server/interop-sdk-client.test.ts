import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { describe, expect, it } from "vitest";
import { serverUnderTest } from "./support.js";

/**
 * The official MCP SDK client: its `auth()` drives discovery, registration, PKCE, the code exchange and
 * refresh, from `StreamableHTTPClientTransport`. The only part played here is the user's browser:
 * `redirectToAuthorization` requests the URL and keeps the code from the redirect.
 */
class BrowserlessProvider implements OAuthClientProvider {
  readonly redirectUrl = "http://127.0.0.1:9/callback";
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  authorizationUrls: URL[] = [];
  callback: URL | undefined;

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "MCP SDK client",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    const response = await fetch(url, { redirect: "manual" });
    this.callback = new URL(response.headers.get("location") ?? "");
  }
}

async function connect(mcpUrl: string, provider: BrowserlessProvider): Promise<Client> {
  const client = new Client({ name: "sdk-interop", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
  return client;
}

describe("interop: the MCP SDK client against our OAuthProvider", () => {
  it("authorizes through auth() over Streamable HTTP, calls a tool, and refreshes an expired token", async () => {
    const t = await serverUnderTest({ accessTokenTtlSeconds: 120 });
    const provider = new BrowserlessProvider();

    // First contact: 401, discovery, registration, then the SDK hands the authorization URL to the "browser".
    const firstTransport = new StreamableHTTPClientTransport(new URL(t.server.mcpUrl), { authProvider: provider });
    await expect(new Client({ name: "sdk-interop", version: "1.0.0" }).connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
    const authorizationUrl = provider.authorizationUrls[0]!;
    expect(authorizationUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorizationUrl.searchParams.get("resource")).toBe(t.server.mcpUrl);
    expect(authorizationUrl.searchParams.get("scope")).toBe("mcp:tools");
    expect(provider.callback?.searchParams.get("iss")).toBe(t.server.issuer);
    await firstTransport.finishAuth(provider.callback!.searchParams.get("code")!);
    expect(provider.saved?.refresh_token).toBeTruthy();

    const client = await connect(t.server.mcpUrl, provider);
    expect(await client.callTool({ name: "add", arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: "text", text: "5" }] });
    const who = await client.callTool({ name: "whoami", arguments: {} });
    expect(JSON.parse((who.content as { text: string }[])[0]!.text)).toEqual({ subject: "user", clientId: provider.client?.client_id, scopes: ["mcp:tools"] });

    // The access token expires (injected clock): the SDK meets 401 invalid_token and refreshes by itself.
    const before = provider.saved!;
    t.clock.now += 121_000;
    expect(await client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).toMatchObject({ content: [{ type: "text", text: "2" }] });
    expect(provider.saved!.access_token).not.toBe(before.access_token);
    expect(provider.saved!.refresh_token).not.toBe(before.refresh_token);
    expect(t.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(1);
    expect(t.server.count("/authorize")).toBe(1);
    await client.close();
  });
});
