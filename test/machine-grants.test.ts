import { generateKeyPairSync, webcrypto, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import Keyv from "keyv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOAuthError, OAuth, type OAuthEvent, type OAuthOptions } from "../src/index.js";
import { listenLocal } from "./support/local-server.js";
import { startNode22Peer, type PeerProcess } from "./support/node22.js";

/*
 * Client credentials against oidc-provider, an authorization server nobody here wrote: it checks the
 * Basic header (form-decoded), the post body, and every private_key_jwt assertion's signature, iss, sub
 * and aud. The resource server asks oidc-provider (introspection) whether each token is valid for it.
 */

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");
// RFC 6749 secrets are VSCHARs (%x20-7E); these are the ones form-encoding changes or must leave alone.
const trickySecret = "s3cr3t with spaces:+/=&%-._*~";
const introspector = { id: "resource-server", secret: "rs-secret" };

function jwk(key: KeyObject, kid: string): Record<string, unknown> {
  return { ...key.export({ format: "jwk" }), kid };
}

let peer: PeerProcess;
let resource: { origin: string; close: () => Promise<void> };
let issuer = "";
let mcpRequests = 0;

beforeAll(async () => {
  resource = await listenLocal((request, response) => void serveResource(request, response));
  const clients = [
    { client_id: introspector.id, client_secret: introspector.secret, grant_types: [], redirect_uris: [], response_types: [] },
    m2m("m2m.basic-client", { client_secret: trickySecret, token_endpoint_auth_method: "client_secret_basic" }),
    m2m("m2m-post", { client_secret: "post-secret", token_endpoint_auth_method: "client_secret_post" }),
    m2m("m2m-rs256", { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "RS256", jwks: { keys: [jwk(rsa.publicKey, "rsa-1")] } }),
    m2m("m2m-ps256", { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "PS256", jwks: { keys: [jwk(rsa.publicKey, "rsa-1")] } }),
    m2m("m2m-es256", { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", jwks: { keys: [jwk(ec.publicKey, "ec-1")] } }),
    m2m("m2m-eddsa", { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk(ed.publicKey, "ed-1")] } }),
  ];
  peer = await startNode22Peer(fileURLToPath(new URL("./peers/oidc-provider-m2m.ts", import.meta.url)), {
    OIDC_M2M_CONFIG: JSON.stringify({ resource: `${resource.origin}/mcp`, clients }),
  });
  issuer = String(peer.ready.issuer);
}, 60_000);

afterAll(async () => {
  await peer?.stop();
  await resource?.close();
});

function m2m(clientId: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { client_id: clientId, grant_types: ["client_credentials"], redirect_uris: [], response_types: [], scope: "mcp:read mcp:write", ...extra };
}

/** The MCP endpoint: 401 with resource metadata without a token, else what oidc-provider says of the token. */
async function serveResource(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { origin } = resource;
  const path = new URL(request.url ?? "/", origin).pathname;
  if (path === "/.well-known/oauth-protected-resource/mcp") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ resource: `${origin}/mcp`, authorization_servers: [issuer], scopes_supported: ["mcp:read"] }));
    return;
  }
  if (path !== "/mcp") return void response.writeHead(404).end();
  mcpRequests += 1;
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
  const challenge = `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`;
  if (!token) return void response.writeHead(401, { "www-authenticate": challenge }).end();
  const introspection = await fetch(`${issuer}/token/introspection`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${introspector.id}:${introspector.secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
  });
  const claims = (await introspection.json()) as { active: boolean; client_id?: string; scope?: string; aud?: string | string[] };
  const audiences = [claims.aud ?? []].flat();
  if (!claims.active || !audiences.includes(`${origin}/mcp`)) return void response.writeHead(401, { "www-authenticate": `${challenge}, error="invalid_token"` }).end();
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ client_id: claims.client_id, scope: claims.scope }));
}

function machineClient(options: Partial<OAuthOptions>) {
  const events: OAuthEvent[] = [];
  const oauth = new OAuth({
    mcpUrl: `${resource.origin}/mcp`,
    grant: "client_credentials",
    tokenStorage: new Keyv(),
    openBrowser: () => {
      throw new Error("a machine-to-machine client must never open a browser");
    },
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { oauth, events };
}

const tokenRequests = (clientId: string) => peer.events.filter((event) => event.event === "token" && event.client === clientId);

describe("client credentials against oidc-provider", () => {
  const cases: [string, Partial<OAuthOptions>][] = [
    ["client_secret_basic, with an id and secret that need form-encoding", { clientId: "m2m.basic-client", clientSecret: trickySecret }],
    ["client_secret_post", { clientId: "m2m-post", clientSecret: "post-secret", additionalClientMetadata: { token_endpoint_auth_method: "client_secret_post" } }],
    ["private_key_jwt RS256 from a PKCS#8 PEM", { clientId: "m2m-rs256", privateKey: rsa.privateKey.export({ format: "pem", type: "pkcs8" }).toString(), keyId: "rsa-1" }],
    ["private_key_jwt PS256 from a PKCS#1 PEM", { clientId: "m2m-ps256", privateKey: rsa.privateKey.export({ format: "pem", type: "pkcs1" }).toString(), signingAlgorithm: "PS256" }],
    ["private_key_jwt ES256 from a SEC1 PEM", { clientId: "m2m-es256", privateKey: ec.privateKey.export({ format: "pem", type: "sec1" }).toString(), signingAlgorithm: "ES256" }],
  ];
  for (const [name, options] of cases) {
    it(`gets a token with ${name}, with no browser and no callback server`, async () => {
      const { oauth, events } = machineClient(options);
      const response = await oauth.fetch(`${resource.origin}/mcp`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ client_id: options.clientId, scope: "mcp:read" });
      expect(tokenRequests(options.clientId as string)).toEqual([{ event: "token", grant: "client_credentials", client: options.clientId, resource: `${resource.origin}/mcp` }]);
      expect(events.map((event) => event.type)).not.toContain("callback_listening");
      expect(events.find((event) => event.type === "tokens_stored")).toMatchObject({ grant: "client_credentials", refreshable: false, scope: "mcp:read" });
    });
  }

  it("signs with a WebCrypto Ed25519 key (EdDSA)", async () => {
    const privateKey = await webcrypto.subtle.importKey("pkcs8", ed.privateKey.export({ format: "der", type: "pkcs8" }), { name: "Ed25519" }, false, ["sign"]);
    const { oauth } = machineClient({ clientId: "m2m-eddsa", privateKey });
    expect(await oauth.getAccessToken()).toMatch(/\S{20,}/);
    expect(tokenRequests("m2m-eddsa")).toHaveLength(1);
  });

  it("requests a new token when the old one expires: there is no refresh token, and no 401 round trip", async () => {
    let now = Date.now();
    const { oauth, events } = machineClient({ clientId: "m2m-post", clientSecret: "post-secret", additionalClientMetadata: { token_endpoint_auth_method: "client_secret_post" }, now: () => now });
    const before = tokenRequests("m2m-post").length;
    expect((await oauth.fetch(`${resource.origin}/mcp`)).status).toBe(200);
    const first = await oauth.getAccessToken();
    const requestsBefore = mcpRequests;
    now += 3_600_000; // the token's hour is over
    expect((await oauth.fetch(`${resource.origin}/mcp`)).status).toBe(200);
    expect(mcpRequests - requestsBefore).toBe(1);
    expect(await oauth.getAccessToken()).not.toBe(first);
    expect(tokenRequests("m2m-post").length - before).toBe(2);
    expect(events.filter((event) => event.type === "tokens_stored").map((event) => (event as { grant: string }).grant)).toEqual(["client_credentials", "client_credentials"]);
  });

  it("a wrong secret is a typed invalid_client error that never shows the secret", async () => {
    const { oauth } = machineClient({ clientId: "m2m.basic-client", clientSecret: "wrong-secret-value" });
    const error = await oauth.fetch(`${resource.origin}/mcp`).catch((caught: unknown) => caught);
    expect(isOAuthError(error, "token_exchange_failed")).toBe(true);
    expect(error).toMatchObject({ oauthError: "invalid_client", status: 401 });
    expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain("wrong-secret-value");
  });

  it("a key the server does not hold is rejected as invalid_client", async () => {
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const { oauth } = machineClient({ clientId: "m2m-es256", privateKey: stranger });
    await expect(oauth.getAccessToken()).rejects.toMatchObject({ code: "token_exchange_failed", oauthError: "invalid_client" });
  });
});
