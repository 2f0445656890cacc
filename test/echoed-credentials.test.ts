/**
 * Credentials the library sends that a server echoes back in its `error_description` are not printed:
 * - SEP-990 token exchange: the user's ID token (`subject_token`) and the identity provider's client
 *   secret, echoed by the identity provider;
 * - `private_key_jwt`: the signed `client_assertion`, echoed by the token endpoint (oauth4webapi signs it
 *   inside the request, so request-tokens.ts records what was sent to redact it).
 * Both leaked before (found by the mutation work). Each test first proves the server did receive the
 * credential, so neither can pass vacuously.
 */
import { generateKeyPairSync } from "node:crypto";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { isOAuthError, OAuth } from "../src/index.js";
import { hostileServer } from "./support/hostile-server.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

async function messageOf(run: () => Promise<unknown>): Promise<string> {
  const error = await run().then(
    () => new Error("the call succeeded"),
    (e: unknown) => e,
  );
  if (!isOAuthError(error)) throw new Error(`expected an OAuthError, got ${String(error)}`, { cause: error });
  return error.message;
}

describe("credentials echoed in error_description", () => {
  it("the identity provider echoing the ID token and its client secret does not get them printed", async () => {
    const idToken = "IDTOKEN-SECRET-77aa";
    const idpSecret = "IDP-SECRET-1234";
    const server = await hostileServer({
      routes: { "/idp/token": { status: 400, body: { error: "invalid_grant", error_description: `subject_token ${idToken} refused for ${idpSecret}` } } },
    });
    closeLater(server.close);
    const oauth = new OAuth({
      mcpUrl: server.mcpUrl,
      tokenStorage: new Keyv(),
      grant: "enterprise_managed",
      clientId: "mcp-client",
      clientSecret: "mcp-secret",
      identityProvider: { tokenEndpoint: `${server.origin}/idp/token`, clientId: "idp-client", clientSecret: idpSecret, idToken },
    });
    const message = await messageOf(() => oauth.getAccessToken());
    const sent = server.seen.find((r) => r.path === "/idp/token");
    expect(new URLSearchParams(sent?.body).get("subject_token")).toBe(idToken);
    expect(message).toContain("invalid_grant");
    expect(message).not.toContain(idToken);
    expect(message).not.toContain(idpSecret);
  });

  it("a token endpoint echoing the private_key_jwt client_assertion does not get it printed", async () => {
    const assertions: string[] = [];
    let origin = "";
    const server = await listenLocal((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const json = (status: number, value: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
        const path = new URL(request.url ?? "/", origin).pathname;
        if (path === "/.well-known/oauth-protected-resource/mcp") return json(200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
        if (path === "/.well-known/oauth-authorization-server") {
          return json(200, { issuer: origin, token_endpoint: `${origin}/token`, token_endpoint_auth_methods_supported: ["private_key_jwt"] });
        }
        if (path !== "/token") return void response.writeHead(404).end();
        const assertion = new URLSearchParams(body).get("client_assertion") ?? "";
        assertions.push(assertion);
        json(400, { error: "invalid_client", error_description: `assertion ${assertion} not accepted` });
      });
    });
    closeLater(server.close);
    origin = server.origin;
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const oauth = new OAuth({
      mcpUrl: `${origin}/mcp`,
      tokenStorage: new Keyv(),
      grant: "client_credentials",
      clientId: "m2m",
      privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    });
    const message = await messageOf(() => oauth.getAccessToken());
    const [assertion] = assertions;
    expect(assertion?.split(".")).toHaveLength(3);
    expect(message).toContain("invalid_client");
    expect(message).not.toContain(assertion);
  });
});
