import { generateKeyPairSync } from "node:crypto";
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError, type OAuthOptions } from "../src/index.js";
import { hostileServer, SECRET, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

/**
 * Three loopback servers: the MCP server (`mcp`), the authorization server its owner really uses
 * (`legit`), and one an attacker controls (`attacker`). The MCP server's resource metadata names
 * whichever the test says: a hostile, compromised or migrated MCP server may name any.
 */
const servers: HostileServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const token = { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", expires_in: 3600 } };

async function world() {
  const legit = await hostileServer({ token });
  const attacker = await hostileServer({ token, register: { status: 201, body: { client_id: "c2", client_secret: "CS-OF-THE-NEW-SERVER", client_secret_expires_at: 0, redirect_uris: [] } } });
  const prm = { body: { resource: "", authorization_servers: [legit.origin] } };
  const mcp = await hostileServer({ routes: { "/.well-known/oauth-protected-resource/mcp": prm } });
  prm.body.resource = mcp.mcpUrl;
  servers.push(legit, attacker, mcp);
  const names = (...issuers: string[]) => void (prm.body.authorization_servers = issuers);
  return { legit, attacker, mcp, names };
}

/** Did the attacker see the secret, an assertion or any token request? */
function attackerGotCredentials(attacker: HostileServer): boolean {
  return attacker.seen.some(
    (r) => r.path === "/token" || r.authorization !== undefined || r.body.includes(SECRET.client) || r.body.includes("client_assertion") || r.body.includes("confidential"),
  );
}

function oauthFor(mcpUrl: string, store: Keyv, extra: Partial<OAuthOptions>, opened: string[] = []) {
  return new OAuth({
    mcpUrl,
    tokenStorage: store,
    logger: captureLogger(),
    openBrowser: async (url) => {
      opened.push(url);
      await fetch(url).then((page) => page.body?.cancel());
    },
    ...extra,
  });
}

const m2m = { grant: "client_credentials", clientId: "confidential", clientSecret: SECRET.client } as const;

async function failure(oauth: OAuth): Promise<OAuthError> {
  const error = await oauth.getAccessToken().catch((e: unknown) => e);
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`);
  return error;
}

describe("pre-registered credentials go only to the authorization server they belong with", () => {
  it("authorizationServer: a resource that names only another server is refused before anything is sent to it", async () => {
    const w = await world();
    w.names(w.attacker.origin);
    const error = await failure(oauthFor(w.mcp.mcpUrl, new Keyv(), { ...m2m, authorizationServer: w.legit.origin }));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(error.message).toContain(w.legit.origin);
    expect(error.message).toContain(w.attacker.origin);
    expect(w.attacker.seen).toEqual([]);
    expect(w.legit.seen).toEqual([]);
  });

  it("authorizationServer picks its server from a list that names several, wherever it stands", async () => {
    const w = await world();
    w.names(w.attacker.origin, w.legit.origin);
    expect(await oauthFor(w.mcp.mcpUrl, new Keyv(), { ...m2m, authorizationServer: w.legit.origin }).getAccessToken()).toBe(SECRET.access);
    expect(w.legit.count("/token")).toBe(1);
    expect(w.attacker.seen).toEqual([]);
  });

  it("without it, the first server listed is used (C4)", async () => {
    const w = await world();
    w.names(w.legit.origin, w.attacker.origin);
    expect(await oauthFor(w.mcp.mcpUrl, new Keyv(), m2m).getAccessToken()).toBe(SECRET.access);
    expect(w.attacker.seen).toEqual([]);
  });

  it("without it, the issuer the credentials first worked with is recorded, survives clearTokens() and a restart, and another is refused", async () => {
    const w = await world();
    const store = new Keyv();
    const first = oauthFor(w.mcp.mcpUrl, store, m2m);
    await first.getAccessToken();
    expect(await store.get(first.storageKey("binding"))).toMatchObject({ issuer: w.legit.origin, clientId: "confidential" });

    // The MCP server now names the attacker's server; the tokens are gone, so a new token is needed.
    w.names(w.attacker.origin);
    await first.clearTokens();
    const error = await failure(oauthFor(w.mcp.mcpUrl, store, m2m));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(error.message).toContain(w.legit.origin);
    expect(attackerGotCredentials(w.attacker)).toBe(false);
  });

  it("the browser flow of a pre-registered confidential client stops before the browser opens", async () => {
    const w = await world();
    w.names(w.attacker.origin);
    const opened: string[] = [];
    const error = await failure(oauthFor(w.mcp.mcpUrl, new Keyv(), { clientId: "confidential", clientSecret: SECRET.client, authorizationServer: w.legit.origin }, opened));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(opened).toEqual([]);
    expect(w.attacker.seen).toEqual([]);
  });

  it("the browser flow checks the recorded binding too, before the browser opens", async () => {
    const w = await world();
    const store = new Keyv();
    const confidential = { clientId: "confidential", clientSecret: SECRET.client };
    const first = oauthFor(w.mcp.mcpUrl, store, confidential);
    await first.getAccessToken();
    await first.clearTokens();
    w.names(w.attacker.origin);
    const opened: string[] = [];
    const error = await failure(oauthFor(w.mcp.mcpUrl, store, confidential, opened));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(opened).toEqual([]);
    expect(attackerGotCredentials(w.attacker)).toBe(false);
  });

  it("a refresh never sends the credentials to another server either (tokens stored from before the option was set)", async () => {
    const w = await world();
    w.names(w.attacker.origin);
    const store = new Keyv();
    const clock = { now: Date.now() };
    await oauthFor(w.mcp.mcpUrl, store, { ...m2m, now: () => clock.now }).getAccessToken();
    expect(w.attacker.count("/token")).toBe(1);

    clock.now += 7_200_000; // expired: the stored refresh token would be sent to the server that issued it
    const pinned = oauthFor(w.mcp.mcpUrl, store, { ...m2m, now: () => clock.now, authorizationServer: w.legit.origin });
    expect((await failure(pinned)).code).toBe("authorization_server_mismatch");
    expect(w.attacker.count("/token")).toBe(1);
  });

  it("a recorded binding made for another client id does not bind a new one", async () => {
    const w = await world();
    const store = new Keyv();
    const first = oauthFor(w.mcp.mcpUrl, store, m2m);
    await first.getAccessToken();
    await first.clearTokens();
    w.names(w.attacker.origin);
    const other = oauthFor(w.mcp.mcpUrl, store, { ...m2m, clientId: "another-client" });
    expect(await other.getAccessToken()).toBe(SECRET.access);
    expect(await store.get(other.storageKey("binding"))).toMatchObject({ issuer: w.attacker.origin, clientId: "another-client" });
  });

  it("dynamic registrations stay keyed by issuer: a server that moves gets a registration of its own, never the old one's (C15)", async () => {
    const w = await world();
    const store = new Keyv();
    const oauth = oauthFor(w.mcp.mcpUrl, store, {});
    await oauth.getAccessToken();
    expect(await store.get(oauth.storageKey("client", w.legit.origin))).toMatchObject({ client_id: "c1" });

    w.names(w.attacker.origin);
    await oauth.clearTokens();
    await oauthFor(w.mcp.mcpUrl, store, {}).getAccessToken();
    expect(w.attacker.count("/register")).toBe(1);
    expect(await store.get(oauth.storageKey("client", w.attacker.origin))).toMatchObject({ client_id: "c2" });
    expect(await store.get(oauth.storageKey("client", w.legit.origin))).toMatchObject({ client_id: "c1" });
    // The old server's registration (its id, its secret) never went to the new one.
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
    expect(w.attacker.seen.some((r) => r.body.includes(SECRET.client) || r.body.includes("client_id=c1") || r.authorization === basic("c1", SECRET.client))).toBe(false);
    expect(w.attacker.seen.find((r) => r.path === "/token")?.authorization).toBe(basic("c2", "CS-OF-THE-NEW-SERVER"));
  });
});

describe("which credentials are bound, and when the binding is written", () => {
  it("a public client (client id, no secret, no key) is not bound: nothing is recorded, and it may follow the MCP server elsewhere", async () => {
    const w = await world();
    const store = new Keyv();
    const first = oauthFor(w.mcp.mcpUrl, store, { clientId: "public-app" });
    expect(await first.getAccessToken()).toBe(SECRET.access);
    expect(await store.get(first.storageKey("binding"))).toBeUndefined();
    await first.clearTokens();
    w.names(w.attacker.origin);
    expect(await oauthFor(w.mcp.mcpUrl, store, { clientId: "public-app" }).getAccessToken()).toBe(SECRET.access);
    expect(w.attacker.count("/token")).toBe(1);
  });

  it("a binding recorded while the client had a secret does not hold it once it is public", async () => {
    const w = await world();
    const store = new Keyv();
    const confidential = oauthFor(w.mcp.mcpUrl, store, { clientId: "app", clientSecret: SECRET.client });
    await confidential.getAccessToken();
    expect(await store.get(confidential.storageKey("binding"))).toMatchObject({ issuer: w.legit.origin, clientId: "app" });
    await confidential.clearTokens();
    w.names(w.attacker.origin);
    expect(await oauthFor(w.mcp.mcpUrl, store, { clientId: "app" }).getAccessToken()).toBe(SECRET.access);
  });

  it("a private_key_jwt client is bound like one with a secret: recorded, and another issuer refused", async () => {
    const w = await world();
    const store = new Keyv();
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const keyed = { grant: "client_credentials", clientId: "keyed", privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString() } as const;
    const first = oauthFor(w.mcp.mcpUrl, store, keyed);
    await first.getAccessToken();
    expect(await store.get(first.storageKey("binding"))).toMatchObject({ issuer: w.legit.origin, clientId: "keyed" });
    await first.clearTokens();
    w.names(w.attacker.origin);
    expect((await failure(oauthFor(w.mcp.mcpUrl, store, keyed))).code).toBe("authorization_server_mismatch");
    expect(w.attacker.seen.filter((r) => r.path === "/token")).toEqual([]);
  });

  it("with the authorizationServer option nothing is recorded", async () => {
    const w = await world();
    const store = new Keyv();
    const pinned = oauthFor(w.mcp.mcpUrl, store, { ...m2m, authorizationServer: w.legit.origin });
    await pinned.getAccessToken();
    expect(await store.get(pinned.storageKey("binding"))).toBeUndefined();
  });

  it("stored tokens from another issuer are refused by the option, and the error names the option as the source", async () => {
    const w = await world();
    w.names(w.attacker.origin);
    const store = new Keyv();
    const clock = { now: Date.now() };
    // No binding: the grant names another client id, so only the option can refuse the stored refresh token.
    await oauthFor(w.mcp.mcpUrl, store, { ...m2m, clientId: "earlier", now: () => clock.now }).getAccessToken();
    clock.now += 7_200_000;
    const error = await failure(oauthFor(w.mcp.mcpUrl, store, { ...m2m, now: () => clock.now, authorizationServer: w.legit.origin }));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(error.message).toContain(`belong with ${w.legit.origin} (the \`authorizationServer\` option)`);
  });

  it("a recorded binding keeps the time it was first made, and the error says where it came from", async () => {
    const w = await world();
    const store = new Keyv();
    const clock = { now: 1_000_000 };
    const first = oauthFor(w.mcp.mcpUrl, store, { ...m2m, now: () => clock.now });
    await first.getAccessToken();
    await first.clearTokens();
    clock.now += 60_000;
    const second = oauthFor(w.mcp.mcpUrl, store, { ...m2m, now: () => clock.now });
    await second.getAccessToken();
    expect(await store.get(second.storageKey("binding"))).toMatchObject({ issuer: w.legit.origin, boundAt: 1_000_000 });
    await second.clearTokens();
    w.names(w.attacker.origin);
    const error = await failure(oauthFor(w.mcp.mcpUrl, store, m2m));
    expect(error.message).toContain("(the issuer they first obtained tokens from, recorded in the token store)");
  });
});
