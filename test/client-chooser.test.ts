/**
 * ClientChooser on its own, against a loopback authorization server: which loopback ports a login listens
 * on, that nothing is sent to a registration endpoint that is not https: (or loopback), how long a new
 * registration is kept in the store (as long as its secret), which clients count as registered (the server
 * may forget those), what dropping one does, and which client a refresh uses.
 */
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { CredentialBinding } from "../src/flow/credential-binding.js";
import type { FetchLike } from "../src/shared/back-channel.js";
import { ClientChooser } from "../src/flow/client-chooser.js";
import { isOAuthError, type OAuthEvent, type OAuthOptions, type TokenStorage } from "../src/index.js";
import { resolveOptions } from "../src/options.js";
import { TokenStore, type ClientRecord, type DiscoveryRecord } from "../src/store/token-store.js";
import { hostileServer, type Answer, type HostileServer } from "./support/hostile-server.js";
import { cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();
const mcpUrl = "http://127.0.0.1:1/mcp";

interface Setup {
  chooser: ClientChooser;
  store: TokenStore;
  events: OAuthEvent[];
  /** Every URL the chooser's back channel was asked for. */
  requested: string[];
  /** TTLs the store was given for client records. */
  clientTtls: (number | undefined)[];
}

function setup(extra: Partial<OAuthOptions> = {}, now = Date.now()): Setup {
  const events: OAuthEvent[] = [];
  const requested: string[] = [];
  const clientTtls: (number | undefined)[] = [];
  const inner = new Keyv();
  const storage: TokenStorage = {
    get: (key) => inner.get(key),
    set: (key, value, ttl) => {
      if (key.endsWith(":client")) clientTtls.push(ttl);
      return inner.set(key, value, ttl);
    },
    delete: (key) => inner.delete(key),
  };
  const o = resolveOptions({ mcpUrl, tokenStorage: storage, onEvent: (event) => events.push(event), now: () => now, ...extra });
  const store = new TokenStore(o.tokenStorage, o.serverKey, o.logger, o.mcpUrl);
  const backChannel: FetchLike = (input, init) => {
    requested.push(String(input instanceof Request ? input.url : input));
    return fetch(input, init);
  };
  return { chooser: new ClientChooser(o, store, backChannel, new CredentialBinding(o, store)), store, events, requested, clientTtls };
}

async function server(register?: Answer | Answer[]): Promise<HostileServer> {
  const s = await hostileServer(register ? { register } : {});
  closeLater(s.close);
  return s;
}

function discovery(s: HostileServer, as: Partial<DiscoveryRecord["authorizationServer"]> = {}): DiscoveryRecord {
  return {
    resource: s.mcpUrl,
    authorizationServer: { issuer: s.origin, authorization_endpoint: `${s.origin}/authorize`, token_endpoint: `${s.origin}/token`, registration_endpoint: `${s.origin}/register`, ...as },
    legacy: false,
    discoveredAt: 1,
  };
}

const registration = (redirect: string): ClientRecord => ({ client_id: "c", redirect_uris: [redirect], token_endpoint_auth_method: "none" });

describe("callback ports", () => {
  it("the configured port alone; else the stored registration's port, then any; else any", () => {
    expect(setup({ callbackPort: 8123 }).chooser.callbackPorts(registration("http://127.0.0.1:9000/callback"))).toEqual([8123]);
    const { chooser } = setup();
    expect(chooser.callbackPorts(registration("http://127.0.0.1:9000/callback"))).toEqual([9000, 0]);
    expect(chooser.callbackPorts(registration("http://127.0.0.1/callback"))).toEqual([0]);
    expect(chooser.callbackPorts(registration("not a url"))).toEqual([0]);
    expect(chooser.callbackPorts({ client_id: "c", redirect_uris: [] })).toEqual([0]);
    expect(chooser.callbackPorts(undefined)).toEqual([0]);
  });
});

describe("a new registration", () => {
  it("is not requested from a registration endpoint that is not https: on another host; nothing is sent", async () => {
    const s = await server();
    const { chooser, requested } = setup();
    for (const registration_endpoint of ["http://as.example.com/register", undefined]) {
      const insecure = discovery(s, { registration_endpoint, authorization_endpoint: "http://as.example.com/authorize" });
      const error = await chooser.prepare(insecure, "http://127.0.0.1:4000/callback", undefined, undefined).catch((e: unknown) => e);
      expect(isOAuthError(error, "insecure_endpoint")).toBe(true);
    }
    expect(requested).toEqual([]);
    // The registration endpoint is what is checked, not the authorization endpoint beside it.
    const mixed = discovery(s, { registration_endpoint: "http://as.example.com/register" });
    const error = await chooser.prepare(mixed, "http://127.0.0.1:4000/callback", undefined, undefined).catch((e: unknown) => e);
    expect(isOAuthError(error, "insecure_endpoint")).toBe(true);
    expect((error as Error).message).toContain("registration_endpoint");
    expect(requested).toEqual([]);
  });

  it("is kept in the store until its secret expires (at least a millisecond), and without a TTL when it does not expire", async () => {
    const now = 1_700_000_000_000;
    const s = await server([
      { status: 201, body: { client_id: "a", client_secret: "CS-a", client_secret_expires_at: now / 1000 + 600 } },
      { status: 201, body: { client_id: "b", client_secret: "CS-b", client_secret_expires_at: now / 1000 - 600 } },
      { status: 201, body: { client_id: "c", client_secret: "CS-c", client_secret_expires_at: 0 } },
      { status: 201, body: { client_id: "d" } },
    ]);
    const { chooser, clientTtls } = setup({}, now);
    for (let i = 0; i < 4; i += 1) {
      chooser.forget();
      await chooser.prepare(discovery(s), "http://127.0.0.1:4000/callback", undefined, undefined);
    }
    expect(clientTtls).toEqual([600_000, 1, undefined, undefined]);
  });

  it("counts as registered, and is used again for the same issuer without a request; dropping it forgets it and deletes it", async () => {
    const s = await server([
      { status: 201, body: { client_id: "first", client_secret_expires_at: 0 } },
      { status: 201, body: { client_id: "second", client_secret_expires_at: 0 } },
    ]);
    const { chooser, store, events } = setup();
    const redirect = "http://127.0.0.1:4000/callback";
    expect(chooser.registered).toBe(false);
    expect((await chooser.prepare(discovery(s), redirect, undefined, undefined)).client_id).toBe("first");
    expect(chooser.registered).toBe(true);
    expect(await store.getClient(s.origin)).toMatchObject({ client_id: "first" });
    expect((await chooser.prepare(discovery(s), redirect, undefined, undefined)).client_id).toBe("first");
    expect(s.count("/register")).toBe(1);

    await chooser.drop(s.origin, "a test dropped it");
    expect(events.filter((e) => e.type === "client_dropped")).toEqual([{ type: "client_dropped", clientId: "first", reason: "a test dropped it" }]);
    expect(chooser.registered).toBe(false);
    expect(await store.getClient(s.origin)).toBeUndefined();
    expect((await chooser.prepare(discovery(s), redirect, undefined, undefined)).client_id).toBe("second");
  });

  it("a stored registration is checked with the server once, then counts as registered and is used without a check", async () => {
    const s = await server();
    const { chooser, store, events } = setup();
    const redirect = "http://127.0.0.1:4000/callback";
    const stored = registration(redirect);
    await store.setClient(s.origin, stored);
    expect((await chooser.prepare(discovery(s), redirect, stored, undefined)).client_id).toBe("c");
    expect(events).toContainEqual({ type: "client_ready", clientId: "c", source: "stored" });
    // A server may forget a stored registration: it counts as registered, so an invalid_client drops it.
    expect(chooser.registered).toBe(true);
    expect((await chooser.prepare(discovery(s), redirect, stored, undefined)).client_id).toBe("c");
    expect(s.count("/authorize")).toBe(1);
    expect(s.count("/register")).toBe(0);
  });

  it("the registration in use is what a refresh uses, even once the store lost it; dropping with none in use names no client", async () => {
    const s = await server({ status: 201, body: { client_id: "in-use", client_secret_expires_at: 0 } });
    const { chooser, store } = setup();
    await chooser.prepare(discovery(s), "http://127.0.0.1:4000/callback", undefined, undefined);
    await store.delete("client", s.origin);
    expect(await chooser.known(discovery(s).authorizationServer)).toMatchObject({ record: { client_id: "in-use" } });
    const fresh = setup();
    await fresh.chooser.drop(s.origin, "nothing in use");
    expect(fresh.events).toEqual([{ type: "client_dropped", clientId: "", reason: "nothing in use" }]);
  });

  it("made at one issuer is not used at another", async () => {
    const one = await server({ status: 201, body: { client_id: "at-one", client_secret_expires_at: 0 } });
    const two = await server({ status: 201, body: { client_id: "at-two", client_secret_expires_at: 0 } });
    const { chooser } = setup();
    const redirect = "http://127.0.0.1:4000/callback";
    expect((await chooser.prepare(discovery(one), redirect, undefined, undefined)).client_id).toBe("at-one");
    expect((await chooser.prepare(discovery(two), redirect, undefined, undefined)).client_id).toBe("at-two");
    expect(await chooser.known(discovery(two).authorizationServer)).toMatchObject({ record: { client_id: "at-two" } });
    expect(await chooser.known(discovery(one).authorizationServer)).toMatchObject({ record: { client_id: "at-one" } });
  });
});

describe("configured clients", () => {
  it("a pre-registered client does not count as registered; a refresh uses it at any issuer its binding allows", async () => {
    const s = await server();
    const { chooser, events } = setup({ clientId: "pre", clientSecret: "CS-pre", authorizationServer: s.origin });
    const record = await chooser.prepare(discovery(s), "http://127.0.0.1:4000/callback", undefined, undefined);
    expect(record).toMatchObject({ client_id: "pre" });
    expect(chooser.registered).toBe(false);
    expect(events).toContainEqual({ type: "client_ready", clientId: "pre", source: "pre-registered" });
    expect(s.count("/register")).toBe(0);

    const fresh = setup({ clientId: "pre", clientSecret: "CS-pre", authorizationServer: s.origin }).chooser;
    expect(await fresh.known(discovery(s).authorizationServer)).toMatchObject({ record: { client_id: "pre" } });
    const elsewhere = await fresh.known({ issuer: "https://elsewhere.example.com" }).catch((e: unknown) => e);
    expect(isOAuthError(elsewhere, "authorization_server_mismatch")).toBe(true);
  });

  it("a stored registration is what a refresh uses in a new process", async () => {
    const s = await server();
    const { chooser, store } = setup();
    expect(await chooser.known(discovery(s).authorizationServer)).toBeUndefined();
    await store.setClient(s.origin, registration("http://127.0.0.1:4000/callback"));
    expect(await chooser.known(discovery(s).authorizationServer)).toEqual({ record: registration("http://127.0.0.1:4000/callback") });
  });
});
