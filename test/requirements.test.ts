import { createHash } from "node:crypto";
import { Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import Keyv from "keyv";
import { describe, expect, it, vi } from "vitest";
import { OAuth, OAuthError, type FetchLike, type OAuthOptions, type TokenRecord } from "../src/index.js";
import { listenForCallback } from "../src/flow/listen-for-callback.js";
import { harness, rpc, type Harness } from "./support/harness.js";
import { hostileServer, SECRET, type Answer, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";
import { captureLogger, followRedirects } from "./support/openers.js";

/**
 * One `describe` per client requirement of ../shared/reference/security-requirements.md whose code no
 * other test guarded: each test here fails when that code is removed or broken (docs/requirements.md
 * lists the mutation each one was checked against). Every server is on 127.0.0.1; nothing else is reached.
 */

const closeLater = cleanupAfterEach();

async function peer(serverOptions: Parameters<typeof harness>[0] = {}, overrides: Partial<OAuthOptions> = {}): Promise<Harness> {
  const h = await harness(serverOptions, overrides);
  closeLater(h.server.close);
  return h;
}

async function hostile(answers: HostileAnswers): Promise<HostileServer> {
  const server = await hostileServer(answers);
  closeLater(server.close);
  return server;
}

/** A fetch that reaches 127.0.0.1 only: any other host is recorded and fails as a network error would. */
function loopbackOnlyFetch(): { fetch: FetchLike; refused: string[] } {
  const refused: string[] = [];
  return {
    refused,
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.hostname !== "127.0.0.1") {
        refused.push(url.href);
        return Promise.reject(new TypeError("fetch failed", { cause: new Error("test: only 127.0.0.1 may be reached") }));
      }
      return fetch(input, init);
    },
  };
}

/** A browser that follows the authorization redirect to the callback and discards the page. */
const quietBrowser = async (url: string) => void (await fetch(url).then((page) => page.body?.cancel()));

function client(mcpUrl: string, extra: Partial<OAuthOptions> = {}): OAuth {
  return new OAuth({ mcpUrl, tokenStorage: new Keyv(), logger: captureLogger(), openBrowser: quietBrowser, callbackTimeoutMs: 5_000, ...extra });
}

async function failure(work: Promise<unknown>): Promise<OAuthError> {
  const error = await work.catch((e: unknown) => e);
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`);
  return error;
}

/** An MCP server (hostile-server shape) whose protected resource metadata is the given body, mutable after start. */
async function mcpWithMetadata(prm: { resource: string; authorization_servers: string[] }): Promise<HostileServer> {
  const body = prm;
  const mcp = await hostile({ routes: { "/.well-known/oauth-protected-resource/mcp": { body } } });
  if (body.resource === "") body.resource = mcp.mcpUrl;
  return mcp;
}

const tokens = (access: string, extra: Record<string, unknown> = {}): Answer => ({
  body: { access_token: access, refresh_token: `${access}-refresh`, token_type: "Bearer", expires_in: 3600, ...extra },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a TCP connection to host:port is accepted (bounded by a 1 s timeout). */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

describe("C3: protected resource metadata must name this resource", () => {
  it("metadata naming another origin stops discovery with resource_mismatch; the authorization server it names is never contacted", async () => {
    const as = await hostile({});
    const target = await mcpWithMetadata({ resource: "https://evil.example.com/mcp", authorization_servers: [as.origin] });
    const error = await failure(client(target.mcpUrl).getAccessToken());
    expect(error.code).toBe("resource_mismatch");
    expect(as.seen).toEqual([]);
  });

  it("metadata found through the challenge's resource_metadata that names a sibling path on the same origin is refused", async () => {
    const as = await hostile({});
    const prm = { resource: "", authorization_servers: [as.origin] };
    const target = await mcpWithMetadata(prm);
    prm.resource = `${target.origin}/other`;
    const error = await failure(client(target.mcpUrl).fetch(target.mcpUrl, rpc()));
    expect(error.code).toBe("resource_mismatch");
    // The 401's resource_metadata URL was the one read, and nothing went to the authorization server.
    expect(target.seen.map((r) => r.path)).toEqual(["/mcp", "/.well-known/oauth-protected-resource/mcp"]);
    expect(as.seen).toEqual([]);
  });
});

describe("C4: the resource metadata must list an authorization server", () => {
  it("an empty authorization_servers list is discovery_failed saying so, and no authorization server is contacted", async () => {
    const as = await hostile({});
    const target = await mcpWithMetadata({ resource: "", authorization_servers: [] });
    const opened: string[] = [];
    const error = await failure(client(target.mcpUrl, { openBrowser: (url) => void opened.push(url) }).getAccessToken());
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toContain("authorization_servers");
    expect(opened).toEqual([]);
    expect(as.seen).toEqual([]);
    expect(target.seen.map((r) => r.path).filter((path) => !path.startsWith("/.well-known/oauth-protected-resource"))).toEqual([]);
  });
});

describe("C8: authorization server endpoints are https:, or http: on loopback only", () => {
  const endpoints = [
    ["token_endpoint", "http://as.example.com/token"],
    ["registration_endpoint", "http://as.example.com/register"],
    ["revocation_endpoint", "http://as.example.com/revoke"],
  ] as const;
  for (const [endpoint, url] of endpoints) {
    it(`a non-loopback http: ${endpoint} in the metadata is insecure_endpoint, before the browser opens or anything is sent`, async () => {
      const net = loopbackOnlyFetch();
      const h = await peer({ metadataOverrides: { [endpoint]: url } }, { fetch: net.fetch });
      const error = await failure(h.oauth.fetch(h.server.mcpUrl, rpc()));
      expect(error.code).toBe("insecure_endpoint");
      expect(error.message).toContain(endpoint);
      expect(h.browser.opened).toEqual([]);
      expect(net.refused).toEqual([]);
      expect(h.server.count("/register") + h.server.count("/authorize") + h.server.count("/token")).toBe(0);
    });
  }

  it("a non-loopback http: issuer in the resource metadata is insecure_endpoint; its metadata is never fetched", async () => {
    const net = loopbackOnlyFetch();
    const h = await peer({ prmOverrides: { authorization_servers: ["http://as.example.com/"] } }, { fetch: net.fetch });
    const error = await failure(h.oauth.fetch(h.server.mcpUrl, rpc()));
    expect(error.code).toBe("insecure_endpoint");
    expect(net.refused).toEqual([]);
  });

  it("a non-loopback http: resource_metadata URL in the 401 challenge is insecure_endpoint and never fetched", async () => {
    const net = loopbackOnlyFetch();
    const mcp = await listenLocal((_request, response) => {
      response.writeHead(401, { "www-authenticate": 'Bearer resource_metadata="http://prm.example.com/.well-known/oauth-protected-resource"' }).end();
    });
    closeLater(mcp.close);
    const error = await failure(client(`${mcp.origin}/mcp`, { fetch: net.fetch }).fetch(`${mcp.origin}/mcp`, rpc()));
    expect(error.code).toBe("insecure_endpoint");
    expect(net.refused).toEqual([]);
  });
});

describe("C11: back-channel requests have a deadline", () => {
  /** An MCP server whose 401 points at metadata served by `serveMetadata`. */
  async function mcpWithSlowMetadata(serveMetadata: (response: ServerResponse) => void) {
    let origin = "";
    const server = await listenLocal((request, response) => {
      if (request.url === "/mcp") {
        return void response.writeHead(401, { "www-authenticate": `Bearer resource_metadata="${origin}/prm"` }).end();
      }
      serveMetadata(response);
    });
    origin = server.origin;
    closeLater(server.close);
    return `${origin}/mcp`;
  }

  it("metadata that never answers ends with a transient discovery_failed after requestTimeoutMs", async () => {
    const mcpUrl = await mcpWithSlowMetadata(() => undefined); // no answer at all
    const started = Date.now();
    const error = await failure(client(mcpUrl, { requestTimeoutMs: 300 }).fetch(mcpUrl, rpc()));
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toContain("timed out");
    expect(error.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("metadata whose body trickles in forever (slow loris) ends the same way", async () => {
    const mcpUrl = await mcpWithSlowMetadata((response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write("{");
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        if (sent > 200) return void clearInterval(timer); // bounded: 10 s at most
        response.write(" ");
      }, 50);
      response.on("close", () => clearInterval(timer));
    });
    const started = Date.now();
    const error = await failure(client(mcpUrl, { requestTimeoutMs: 400 }).fetch(mcpUrl, rpc()));
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toContain("timed out");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a token endpoint that does not answer ends the code exchange with a transient token_exchange_failed", async () => {
    const h = await peer({ faults: { tokenDelayMs: 10_000 } }, { requestTimeoutMs: 500 });
    const started = Date.now();
    const error = await failure(h.oauth.getAccessToken());
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toContain("timed out");
    expect(error.transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("C15: client registrations are keyed by issuer", () => {
  /** The MCP server names `legit`, then `attacker`; registrations there omit redirect_uris, so a stored one would be reusable anywhere. */
  async function migration() {
    const registered = (id: string, secret: string): Answer => ({ status: 201, body: { client_id: id, client_secret: secret, client_secret_expires_at: 0 } });
    const legit = await hostile({ register: registered("c-legit", SECRET.client), token: tokens("AT-legit"), later: tokens("AT-legit-2") });
    const attacker = await hostile({ register: registered("c-attacker", "CS-attacker"), token: tokens("AT-attacker") });
    const prm = { resource: "", authorization_servers: [legit.origin] };
    const mcp = await mcpWithMetadata(prm);
    const move = () => void (prm.authorization_servers = [attacker.origin]);
    /** Whether the attacker saw the legit registration's id or secret anywhere. */
    const leaked = () => attacker.seen.some((r) => `${r.path} ${r.body} ${r.authorization ?? ""}`.includes("c-legit") || r.body.includes(SECRET.client) || (r.authorization ?? "").includes(Buffer.from(`c-legit:${SECRET.client}`).toString("base64")));
    return { legit, attacker, mcp, move, leaked };
  }

  it("a new process after the MCP server moved registers at the new server and never presents the old registration there", async () => {
    const w = await migration();
    const store = new Keyv();
    expect(await client(w.mcp.mcpUrl, { tokenStorage: store }).getAccessToken()).toBe("AT-legit");
    w.move();
    const restarted = client(w.mcp.mcpUrl, { tokenStorage: store });
    await restarted.clearTokens();
    expect(await restarted.getAccessToken()).toBe("AT-attacker");
    expect(w.attacker.count("/register")).toBe(1);
    expect(w.leaked()).toBe(false);
    const authorize = w.attacker.seen.filter((r) => r.path === "/authorize");
    expect(authorize.length).toBeGreaterThan(0);
  });

  it("the same instance, after the MCP server moved, registers at the new server too", async () => {
    const w = await migration();
    const oauth = client(w.mcp.mcpUrl);
    expect(await oauth.getAccessToken()).toBe("AT-legit");
    w.move();
    await oauth.clearTokens();
    expect(await oauth.getAccessToken()).toBe("AT-attacker");
    expect(w.attacker.count("/register")).toBe(1);
    expect(w.leaked()).toBe(false);
  });
});

describe("C16: an expired client secret means a new registration", () => {
  it("a registration whose client_secret_expires_at has passed is not used again: the client registers anew", async () => {
    const start = Date.now();
    const expiresAt = Math.floor(start / 1000) + 3600;
    const as = await hostile({
      register: [
        { status: 201, body: { client_id: "c-first", client_secret: "CS-first", client_secret_expires_at: expiresAt } },
        { status: 201, body: { client_id: "c-second", client_secret: "CS-second", client_secret_expires_at: 0 } },
      ],
      token: [tokens("AT-1"), tokens("AT-2")],
    });
    const inner = new Keyv();
    const ttls: (number | undefined)[] = [];
    const store = {
      get: (key: string) => inner.get(key),
      set: (key: string, value: unknown, ttl?: number) => {
        if (key.endsWith(":client")) ttls.push(ttl);
        return inner.set(key, value, ttl);
      },
      delete: (key: string) => inner.delete(key),
    };
    const first = client(as.mcpUrl, { tokenStorage: store, now: () => start });
    expect(await first.getAccessToken()).toBe("AT-1");
    // The record lives in the store only as long as its secret.
    expect(ttls).toEqual([expiresAt * 1000 - start]);

    // An hour and a bit later, in a new process: the stored registration is still in the store (its TTL
    // runs on the store's own clock) but its secret has expired.
    await first.clearTokens();
    const later = client(as.mcpUrl, { tokenStorage: store, now: () => start + 3_601_000 });
    expect(await later.getAccessToken()).toBe("AT-2");
    expect(as.count("/register")).toBe(2);
    const tokenRequests = as.seen.filter((r) => r.path === "/token");
    expect(tokenRequests[1]?.authorization).toBe(`Basic ${Buffer.from("c-second:CS-second").toString("base64")}`);
  });

  it("the same instance registers anew once the secret it registered with has expired", async () => {
    const clock = { now: Date.now() };
    const as = await hostile({
      register: [
        { status: 201, body: { client_id: "c-first", client_secret: "CS-first", client_secret_expires_at: Math.floor(clock.now / 1000) + 600 } },
        { status: 201, body: { client_id: "c-second", client_secret: "CS-second", client_secret_expires_at: 0 } },
      ],
      token: [tokens("AT-1"), tokens("AT-2")],
    });
    const oauth = client(as.mcpUrl, { now: () => clock.now });
    await oauth.getAccessToken();
    await oauth.clearTokens();
    clock.now += 601_000;
    expect(await oauth.getAccessToken()).toBe("AT-2");
    expect(as.count("/register")).toBe(2);
  });
});

describe("C17: a fresh PKCE verifier and state for every authorization request", () => {
  it("two logins send different states and challenges and redeem with different verifiers, each S256 of its verifier and of full length", async () => {
    const h = await peer();
    await h.oauth.getAccessToken();
    await h.oauth.clearTokens();
    await h.oauth.getAccessToken();
    const requests = h.server.requests.filter((r) => r.path === "/authorize" && r.method === "GET");
    const exchanges = h.server.requests.filter((r) => r.path === "/token" && r.form.grant_type === "authorization_code");
    expect(requests).toHaveLength(2);
    expect(exchanges).toHaveLength(2);
    const [a, b] = requests.map((r) => r.query);
    const [va, vb] = exchanges.map((r) => r.form.code_verifier ?? "");
    expect(a?.state).not.toBe(b?.state);
    expect(a?.code_challenge).not.toBe(b?.code_challenge);
    expect(va).not.toBe(vb);
    for (const [query, verifier] of [
      [a, va],
      [b, vb],
    ] as const) {
      // RFC 7636: 43 to 128 unreserved characters; 43 base64url characters carry 256 bits.
      expect(verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
      expect(query?.code_challenge_method).toBe("S256");
      expect(query?.code_challenge).toBe(createHash("sha256").update(verifier ?? "").digest("base64url"));
      // At least 128 bits of base64url.
      expect(query?.state).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    }
  });
});

describe("C22: the callback listener is bound to 127.0.0.1 only", () => {
  /** Non-loopback IPv4 addresses of this machine's interfaces (may be none). */
  const otherAddresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
    .map((a) => a!.address);

  it("the server's bound address is 127.0.0.1, and other local addresses refuse the connection", async () => {
    const bound: Server[] = [];
    const listen = Server.prototype.listen;
    const spy = vi.spyOn(Server.prototype, "listen").mockImplementation(function (this: Server, ...args: unknown[]) {
      bound.push(this);
      return (listen as (...a: unknown[]) => Server).apply(this, args);
    });
    let listener;
    try {
      listener = await listenForCallback({ port: 0, timeoutMs: 5_000, belongs: () => true, handle: async () => 1 });
    } finally {
      spy.mockRestore();
    }
    closeLater(() => listener.close());
    expect(bound).toHaveLength(1);
    expect(bound[0]?.address()).toMatchObject({ address: "127.0.0.1", family: "IPv4", port: listener.port });
    expect(listener.redirectUri).toBe(`http://127.0.0.1:${listener.port}/callback`);

    expect(await connects("127.0.0.1", listener.port)).toBe(true);
    // Another loopback address (Linux routes all of 127/8 to lo): a wildcard bind would accept it.
    if (process.platform === "linux") expect(await connects("127.0.0.2", listener.port)).toBe(false);
    expect(await connects("::1", listener.port)).toBe(false);
    for (const address of otherAddresses) expect(await connects(address, listener.port), address).toBe(false);
  });

  it("during a real login the redirect URI names 127.0.0.1, and the port refuses other local addresses", async () => {
    const checks: Record<string, boolean> = {};
    const real = followRedirects();
    const h = await peer({}, {
      openBrowser: async (url) => {
        const redirect = new URL(new URL(url).searchParams.get("redirect_uri") ?? "");
        expect(redirect.hostname).toBe("127.0.0.1");
        const port = Number(redirect.port);
        checks["127.0.0.1"] = await connects("127.0.0.1", port);
        if (process.platform === "linux") checks["127.0.0.2"] = await connects("127.0.0.2", port);
        for (const address of otherAddresses) checks[address] = await connects(address, port);
        await real.open(url);
      },
    });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    expect(checks["127.0.0.1"]).toBe(true);
    for (const [address, accepted] of Object.entries(checks)) if (address !== "127.0.0.1") expect(accepted, address).toBe(false);
  });
});

describe("C23: the callback listener lives only for its flow", () => {
  it("after a successful login the callback port is closed, and the page was static, uncached and echoed no parameter", async () => {
    const h = await peer();
    await h.oauth.getAccessToken();
    const redirect = new URL(new URL(h.browser.opened[0] ?? "").searchParams.get("redirect_uri") ?? "");
    expect(await connects("127.0.0.1", Number(redirect.port))).toBe(false);
    await expect.poll(() => h.browser.pages.length).toBe(1);
    const page = h.browser.pages[0]!;
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    const code = h.server.requests.find((r) => r.path === "/token")?.form.code ?? "";
    const state = h.server.requests.find((r) => r.path === "/authorize")?.query.state ?? "";
    const html = await page.text();
    expect(code.length).toBeGreaterThan(0);
    expect(html).not.toContain(code);
    expect(html).not.toContain(state);
  });
});

describe("C29: the callback refuses duplicated parameters and implicit-flow artefacts", () => {
  /** The real authorization server's redirect, tampered with by `tamper` before it reaches the callback. */
  async function tamperedLogin(tamper: (callback: URL) => void) {
    const pages: Response[] = [];
    const h = await peer({}, {
      openBrowser: async (url) => {
        const answer = await fetch(url, { redirect: "manual" });
        const callback = new URL(answer.headers.get("location") ?? "");
        tamper(callback);
        pages.push(await fetch(callback));
      },
    });
    const error = await failure(h.oauth.getAccessToken());
    return { h, error, pages };
  }

  it("an id_token in the authorization response is refused before the code is used", async () => {
    const { h, error, pages } = await tamperedLogin((callback) => callback.searchParams.set("id_token", "injected.id.token"));
    expect(error.code).toBe("authorization_failed");
    expect(h.server.count("/token")).toBe(0);
    expect(pages[0]?.status).toBe(400);
  });

  it("a state sent twice is refused before the code is used", async () => {
    const { h, error } = await tamperedLogin((callback) => callback.searchParams.append("state", callback.searchParams.get("state") ?? ""));
    expect(error.code).toBe("authorization_failed");
    expect(h.server.count("/token")).toBe(0);
  });

  // A duplicated `code` passes our checkCallback and oauth4webapi's validateAuthResponse (which look at
  // `state` and `iss`), and is refused by oauth4webapi's code grant request before anything is sent.
  it("a code sent twice is refused before any code is redeemed", async () => {
    const { h, error, pages } = await tamperedLogin((callback) => callback.searchParams.append("code", "injected-second-code"));
    expect(error.code).toBe("token_exchange_failed");
    expect(error.message).toContain('"code" parameter must be provided only once');
    expect(h.server.count("/token")).toBe(0);
    expect(pages[0]?.status).toBe(400);
  });
});

describe("C31: token responses are checked and what was granted is stored", () => {
  it("a lowercase token_type bearer is accepted, and the granted scope (a subset) is stored, not the requested one", async () => {
    const as = await hostile({ token: tokens("AT-subset", { token_type: "bearer", scope: "read" }) });
    const store = new Keyv();
    const oauth = client(as.mcpUrl, { tokenStorage: store, scopes: ["read", "write"] });
    expect(await oauth.getAccessToken()).toBe("AT-subset");
    const authorize = as.seen.find((r) => r.path === "/authorize");
    expect(authorize).toBeDefined();
    const stored = (await store.get(oauth.storageKey("tokens", as.origin))) as TokenRecord;
    expect(stored.scope).toBe("read");
    expect(stored.requested_scope).toBe("read write");
  });

  it("a response without expires_in stores no expiry, and the token is used (no refresh) until the server refuses it", async () => {
    const as = await hostile({ token: { body: { access_token: "AT-forever", refresh_token: "RT-forever", token_type: "Bearer" } } });
    const store = new Keyv();
    const oauth = client(as.mcpUrl, { tokenStorage: store });
    expect(await oauth.getAccessToken()).toBe("AT-forever");
    const stored = (await store.get(oauth.storageKey("tokens", as.origin))) as TokenRecord;
    expect(stored.expires_at).toBeUndefined();
    const restarted = client(as.mcpUrl, { tokenStorage: store, now: () => Date.now() + 30 * 24 * 3_600_000 });
    expect(await restarted.getAccessToken()).toBe("AT-forever");
    expect(as.count("/token")).toBe(1);
  });
});

describe("C32: the access token travels in the Authorization header only", () => {
  it("requests to the MCP server carry Bearer <token> and no token in the URL", async () => {
    const h = await peer();
    expect((await h.oauth.fetch(`${h.server.mcpUrl}?q=1`, rpc())).status).toBe(200);
    const token = await h.oauth.getAccessToken();
    const calls = h.server.requests.filter((r) => r.path === "/mcp" && r.authorization);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.authorization).toBe(`Bearer ${token}`);
      expect(Object.values(call.query).join(" ")).not.toContain(token);
      expect(call.query).toEqual({ q: "1" });
    }
  });
});

describe("C34: tokens are kept per MCP server (resource) and issuer", () => {
  it("two MCP servers sharing one authorization server and one store get tokens of their own, requested with their own resource", async () => {
    const as = await hostile({ token: [tokens("AT-one"), tokens("AT-two")] });
    const one = await mcpWithMetadata({ resource: "", authorization_servers: [as.origin] });
    const two = await mcpWithMetadata({ resource: "", authorization_servers: [as.origin] });
    const store = new Keyv();
    const forOne = client(one.mcpUrl, { tokenStorage: store });
    const forTwo = client(two.mcpUrl, { tokenStorage: store });
    expect(await forOne.getAccessToken()).toBe("AT-one");
    expect(await forTwo.getAccessToken()).toBe("AT-two");
    const resources = as.seen.filter((r) => r.path === "/token").map((r) => new URLSearchParams(r.body).get("resource"));
    expect(resources).toEqual([one.mcpUrl, two.mcpUrl]);
    expect(forOne.storageKey("tokens", as.origin)).not.toBe(forTwo.storageKey("tokens", as.origin));

    // Restarted processes read each server's own record back: no token crosses over, no new request.
    expect(await client(one.mcpUrl, { tokenStorage: store }).getAccessToken()).toBe("AT-one");
    expect(await client(two.mcpUrl, { tokenStorage: store }).getAccessToken()).toBe("AT-two");
    expect(as.count("/token")).toBe(2);
  });
});

describe("C39: invalid_grant deletes the stored tokens only if they are still the ones that failed", () => {
  it("tokens another process stored during the failed refresh survive it and are used: no second login", async () => {
    const h = await peer();
    await h.oauth.getAccessToken();
    const key = h.oauth.storageKey("tokens", h.server.issuer);

    // Another process (its own grant at the same server) has valid tokens of its own.
    const otherStore = new Keyv();
    const other = new OAuth({ mcpUrl: h.server.mcpUrl, tokenStorage: otherStore, openBrowser: followRedirects().open, logger: captureLogger() });
    await other.getAccessToken();
    const newer = (await otherStore.get(other.storageKey("tokens", h.server.issuer))) as TokenRecord;

    h.server.faults.refresh = "invalid_grant";
    h.server.faults.tokenDelayMs = 300;
    h.clock.now += 3_600_000;
    const refreshes = () => h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token");
    const before = refreshes();
    const tokenRequests = h.server.count("/token");
    const pending = h.oauth.getAccessToken();
    // While our refresh is at the server (held there 300 ms), the other process stores its newer tokens in our store.
    for (let i = 0; i < 200 && h.server.count("/token") === tokenRequests; i += 1) await sleep(10);
    expect(h.server.count("/token")).toBe(tokenRequests + 1);
    const written = { ...newer, obtained_at: h.clock.now, expires_at: h.clock.now + 3_600_000 };
    await h.store.set(key, written);

    expect(await pending).toBe(newer.access_token);
    expect(refreshes()).toBe(before + 1);
    expect(await h.store.get(key)).toEqual(written);
    expect(h.browser.opened).toHaveLength(1);
  });
});

describe("C40: rotated tokens are persisted before they are used", () => {
  /** A store whose token writes take 200 ms, as a remote store under load would. */
  function slowTokenStore() {
    const inner = new Keyv();
    return {
      inner,
      store: {
        get: (key: string) => inner.get(key),
        set: async (key: string, value: unknown, ttl?: number) => {
          if (key.endsWith(":tokens")) await sleep(200);
          return inner.set(key, value, ttl);
        },
        delete: (key: string) => inner.delete(key),
      },
    };
  }

  it("getAccessToken resolves only once the new tokens are in the store", async () => {
    const h = await peer();
    const { inner, store } = slowTokenStore();
    const oauth = h.restart({ tokenStorage: store });
    const token = await oauth.getAccessToken();
    expect(((await inner.get(oauth.storageKey("tokens", h.server.issuer))) as TokenRecord | undefined)?.access_token).toBe(token);
  });

  it("a refreshed access token reaches the MCP server only after the record with the rotated refresh token is stored", async () => {
    const h = await peer();
    const { inner, store } = slowTokenStore();
    const key = () => oauth.storageKey("tokens", h.server.issuer);
    const storedWhenSent: boolean[] = [];
    const checkingFetch: FetchLike = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const authorization = new Headers(init?.headers).get("authorization");
      if (url.pathname === "/mcp" && authorization) {
        const stored = (await inner.get(key())) as TokenRecord | undefined;
        storedWhenSent.push(authorization === `Bearer ${stored?.access_token}`);
      }
      return fetch(input, init);
    };
    const oauth = h.restart({ tokenStorage: store, fetch: checkingFetch });
    expect((await oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const first = (await inner.get(key())) as TokenRecord;
    h.clock.now += 3_600_000;
    expect((await oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const second = (await inner.get(key())) as TokenRecord;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(1);
    expect(storedWhenSent).toEqual([true, true]);
  });
});
