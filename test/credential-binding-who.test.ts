import { generateKeyPairSync } from "node:crypto";
import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError, type OAuthOptions } from "../src/index.js";
import { hostileServer, SECRET, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

const servers: HostileServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const token = { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", expires_in: 3600 } };

async function world() {
  const legit = await hostileServer({ token });
  const attacker = await hostileServer({ token });
  const prm = { body: { resource: "", authorization_servers: [legit.origin] } };
  const mcp = await hostileServer({ routes: { "/.well-known/oauth-protected-resource/mcp": prm } });
  prm.body.resource = mcp.mcpUrl;
  servers.push(legit, attacker, mcp);
  const names = (...issuers: string[]) => void (prm.body.authorization_servers = issuers);
  return { legit, attacker, mcp, names };
}

function oauthFor(mcpUrl: string, store: Keyv, extra: Partial<OAuthOptions>) {
  return new OAuth({
    mcpUrl,
    tokenStorage: store,
    logger: captureLogger(),
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
    ...extra,
  });
}

const m2m = { grant: "client_credentials", clientId: "confidential", clientSecret: SECRET.client } as const;

async function failure(oauth: OAuth): Promise<OAuthError> {
  const error = await oauth.getAccessToken().catch((e: unknown) => e);
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`);
  return error;
}

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
