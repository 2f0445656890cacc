/**
 * The back channel's network guard (src/shared/guard-network.ts), driven directly: what reaches the user's fetch
 * and when the resolver is asked; how resolver answers of every shape are read (a single string, an empty
 * list, an error) for the MCP host and for the target; what the built-in fetch sends (a `Request`'s parts,
 * `init`), that it reuses its checked connections, that its connect-time lookup also serves sockets that
 * ask for one address, and that a failing connect-time lookup fails the request instead of hanging it.
 *
 * Nothing here connects anywhere but 127.0.0.1: names resolve through injected resolvers, and every
 * socket the code opens passes `loopbackOnlyConnections()`, which refuses any other address even if the guard broke.
 */
import type { LookupAddress } from "node:dns";
import net, { isIP, type LookupFunction } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FetchLike } from "../src/shared/back-channel.js";
import { guardNetwork, type NetworkRules } from "../src/shared/guard-network.js";
import { isOAuthError } from "../src/index.js";
import { loopbackOnlyConnections } from "./support/loopback-only.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

afterEach(() => {
  vi.restoreAllMocks();
  net.setDefaultAutoSelectFamily(true);
});

type Answer = string | string[] | Error | ((call: number) => string | string[] | Error);

/**
 * A `dns.lookup`-shaped resolver over a fixed table that records each name asked. A string answer is
 * given as `dns.lookup` gives one address (even when `all` was asked: some resolvers do that), an array
 * as a list, an Error as a failure; an unknown name is ENOTFOUND.
 */
function resolver(table: Record<string, Answer>) {
  const asked: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    asked.push(hostname);
    const entry = table[hostname];
    const answer = typeof entry === "function" ? entry(asked.filter((name) => name === hostname).length) : entry;
    queueMicrotask(() => {
      if (answer === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      if (answer instanceof Error) return callback(answer, "", 0);
      if (typeof answer === "string") return callback(null, answer, isIP(answer));
      const list = answer.map((address) => ({ address, family: isIP(address) }));
      const [first] = list;
      return options.all || !first ? callback(null, list) : callback(null, first.address, first.family);
    });
  }) as LookupFunction;
  return { lookup, asked };
}


function rules(lookup: LookupFunction, extra: Partial<NetworkRules> = {}): NetworkRules {
  return {
    mcpUrl: new URL("https://mcp.test/mcp"),
    allowInsecureHttp: false,
    allowPrivateNetworks: false,
    namedOrigins: new Set(),
    lookup,
    userFetch: undefined,
    ...extra,
  };
}

/** A user fetch that records what it is handed and answers 204. */
function recordingFetch() {
  const handed: (string | URL | Request)[] = [];
  const fetch: FetchLike = (input) => {
    handed.push(input);
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  return { fetch, handed };
}

/** A server on 127.0.0.1 that echoes each request's method, path, content-type and body. */
async function echoServer() {
  const server = await listenLocal((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const echo = { method: request.method, path: request.url, contentType: request.headers["content-type"] ?? null, body: Buffer.concat(chunks).toString() };
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(echo));
    });
  });
  closeLater(server.close);
  return { origin: server.origin, port: new URL(server.origin).port };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("the request succeeded"),
    (caught: unknown) => caught,
  );
}

describe("with the user's fetch", () => {
  it("a public target is handed over as given (a Request stays that Request, init unchanged)", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.20" });
    const user = recordingFetch();
    const guarded = guardNetwork(rules(lookup, { userFetch: user.fetch }));
    const request = new Request("https://as.test/token", { method: "POST", body: "a=b" });
    const init = { headers: { x: "1" } };
    await expect(guarded(request, init)).resolves.toMatchObject({ status: 204 });
    await guarded(new URL("https://as.test/m"));
    expect(user.handed).toEqual([request, new URL("https://as.test/m")]);
    expect(user.handed[0]).toBe(request);
  });

  it("a Request is checked by its URL: one to a private address never reaches the fetch", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "metadata.test": "169.254.169.254" });
    const user = recordingFetch();
    const error = await rejection(guardNetwork(rules(lookup, { userFetch: user.fetch }))(new Request("https://metadata.test/latest")));
    expect(isOAuthError(error, "private_address")).toBe(true);
    expect(user.handed).toEqual([]);
  });

  it("allowPrivateNetworks asks the resolver nothing: a name only the user's fetch (say, its proxy) can resolve still goes through", async () => {
    const { lookup, asked } = resolver({});
    const user = recordingFetch();
    const guarded = guardNetwork(rules(lookup, { userFetch: user.fetch, allowPrivateNetworks: true }));
    await expect(guarded("https://internal.corp.test/m")).resolves.toMatchObject({ status: 204 });
    expect(asked).toEqual([]);
    expect(user.handed).toEqual(["https://internal.corp.test/m"]);
  });

  it("a named origin is not held to the MCP server's class and is not resolved; the same host on another port is", async () => {
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "idp.test": "10.0.0.7" });
    const user = recordingFetch();
    const guarded = guardNetwork(rules(lookup, { userFetch: user.fetch, namedOrigins: new Set(["https://idp.test"]) }));
    await expect(guarded("https://idp.test/token")).resolves.toMatchObject({ status: 204 });
    expect(asked).toEqual([]);
    expect(isOAuthError(await rejection(guarded("https://idp.test:8443/token")), "private_address")).toBe(true);
    expect(user.handed).toEqual(["https://idp.test/token"]);
  });

  it("a resolver that gives one address as a string, though all were asked, is still read", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.20", "vault.test": "10.0.0.9" });
    const user = recordingFetch();
    const guarded = guardNetwork(rules(lookup, { userFetch: user.fetch }));
    await expect(guarded("https://as.test/m")).resolves.toMatchObject({ status: 204 });
    const error = await rejection(guarded("https://vault.test/m"));
    expect(isOAuthError(error, "private_address") && error.message).toContain("vault.test (10.0.0.9): a private address");
    expect(user.handed).toEqual(["https://as.test/m"]);
  });

  it("an MCP host with no address at all is a network error, not the most private class: nothing is handed over", async () => {
    const { lookup } = resolver({ "mcp.test": [], "intranet.test": "10.0.0.7" });
    const user = recordingFetch();
    const error = await rejection(guardNetwork(rules(lookup, { userFetch: user.fetch }))("https://intranet.test/m"));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe("fetch failed");
    expect((error as TypeError).cause).toMatchObject({ code: "ENOTFOUND", message: "no address for mcp.test" });
    expect(user.handed).toEqual([]);
  });

  it("a target with no address, or whose resolution fails, is a network error (fetch failed, the resolver's error as cause)", async () => {
    const failing = Object.assign(new Error("getaddrinfo EAI_AGAIN as.test"), { code: "EAI_AGAIN" });
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "empty.test": [], "as.test": failing });
    const user = recordingFetch();
    const guarded = guardNetwork(rules(lookup, { userFetch: user.fetch }));
    const empty = await rejection(guarded("https://empty.test/m"));
    expect(empty).toBeInstanceOf(TypeError);
    expect((empty as TypeError).cause).toMatchObject({ code: "ENOTFOUND" });
    const failed = await rejection(guarded("https://as.test/m"));
    expect(failed).toBeInstanceOf(TypeError);
    expect((failed as TypeError).message).toBe("fetch failed");
    expect((failed as TypeError).cause).toBe(failing);
    expect(user.handed).toEqual([]);
  });

  it("an IP-literal MCP host is classed as it stands, without asking the resolver (which could not resolve [fd00::1])", async () => {
    for (const mcpUrl of ["https://10.0.0.5/mcp", "https://[fd00::5]/mcp"]) {
      const { lookup, asked } = resolver({ "intranet.test": "10.0.0.7", "metadata.test": "169.254.169.254" });
      const user = recordingFetch();
      const guarded = guardNetwork(rules(lookup, { mcpUrl: new URL(mcpUrl), userFetch: user.fetch }));
      await expect(guarded("https://intranet.test/m")).resolves.toMatchObject({ status: 204 });
      const refusal = await rejection(guarded("https://metadata.test/m"));
      expect(isOAuthError(refusal, "private_address") && refusal.message).toContain("a link-local address, more private than the MCP server's (private)");
      expect(asked).toEqual(["intranet.test", "metadata.test"]);
      expect(user.handed).toEqual(["https://intranet.test/m"]);
    }
  });

  it("a refused IP literal is named once; a refused name is named with the address it resolved to", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "vault.test": "10.0.0.9" });
    const guarded = guardNetwork(rules(lookup, { userFetch: recordingFetch().fetch }));
    const literal = await rejection(guarded("https://10.0.0.9/m"));
    expect(isOAuthError(literal, "private_address") && literal.message).toMatch(/^refused to connect to 10\.0\.0\.9: a private address, more private than the MCP server's \(public\)/);
    const named = await rejection(guarded("https://vault.test/m"));
    expect(isOAuthError(named, "private_address") && named.message).toMatch(/^refused to connect to vault\.test \(10\.0\.0\.9\): a private address/);
  });

  it("the MCP host's class is that of its least private address", async () => {
    const { lookup } = resolver({ "mcp.test": ["10.0.0.5", "203.0.113.10"], "intranet.test": "10.0.0.7" });
    const user = recordingFetch();
    expect(isOAuthError(await rejection(guardNetwork(rules(lookup, { userFetch: user.fetch }))("https://intranet.test/m")), "private_address")).toBe(true);
    const { lookup: privateOnly } = resolver({ "mcp.test": ["10.0.0.5", "127.0.0.1"], "intranet.test": "10.0.0.7" });
    await expect(guardNetwork(rules(privateOnly, { userFetch: user.fetch }))("https://intranet.test/m")).resolves.toMatchObject({ status: 204 });
  });
});

describe("with the built-in fetch", () => {
  /**
   * Rules for a loopback MCP URL: every host may be reached, but each connection to a name still goes
   * through the guard's lookup. Names are `*.localhost`, the only ones plain http may reach (C8).
   */
  function loopbackRules(lookup: LookupFunction): NetworkRules {
    return rules(lookup, { mcpUrl: new URL("http://localhost:1/mcp") });
  }

  it("sends a Request's method, headers and body; init given with it wins", async () => {
    loopbackOnlyConnections();
    const server = await echoServer();
    const { lookup } = resolver({ localhost: ["127.0.0.1"] });
    const guarded = guardNetwork(loopbackRules(lookup));
    const post = new Request(`http://localhost:${server.port}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=x" });
    await expect((await guarded(post)).json()).resolves.toEqual({ method: "POST", path: "/token", contentType: "application/x-www-form-urlencoded", body: "grant_type=x" });
    const get = new Request(`http://localhost:${server.port}/m?q=1`);
    await expect((await guarded(get)).json()).resolves.toEqual({ method: "GET", path: "/m?q=1", contentType: null, body: "" });
    // HEAD, like GET, carries no body (undici refuses a HEAD request with one, even an empty one).
    const head = await guarded(new Request(`http://localhost:${server.port}/h`, { method: "HEAD" }));
    expect(head.status).toBe(200);
    const overridden = new Request(`http://localhost:${server.port}/token`, { method: "POST", body: "from-request" });
    await expect((await guarded(overridden, { method: "PUT", body: "from-init" })).json()).resolves.toMatchObject({ method: "PUT", body: "from-init" });
  });

  it("sends init's method, headers and body with a URL", async () => {
    loopbackOnlyConnections();
    const server = await echoServer();
    const { lookup } = resolver({});
    const guarded = guardNetwork(loopbackRules(lookup));
    const response = await guarded(`${server.origin}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await expect(response.json()).resolves.toEqual({ method: "POST", path: "/register", contentType: "application/json", body: "{}" });
    await expect((await guarded(`${server.origin}/m`)).json()).resolves.toMatchObject({ method: "GET", path: "/m" });
  });

  it("resolves a name through the guard's lookup at connect time, and keeps the connection for the next request", async () => {
    const attempts = loopbackOnlyConnections();
    const server = await echoServer();
    const { lookup, asked } = resolver({ "as.localhost": ["127.0.0.1"] });
    const guarded = guardNetwork(loopbackRules(lookup));
    for (const path of ["/a", "/b", "/c", "/d", "/e", "/f"]) await expect((await guarded(`http://as.localhost:${server.port}${path}`)).json()).resolves.toMatchObject({ path });
    // Connections are kept and reused (undici may open a second while the first is being released), not
    // opened anew per request; each socket resolved the name through the guard's lookup.
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.length).toBeLessThanOrEqual(2);
    expect(new Set(attempts)).toEqual(new Set(["as.localhost"]));
    expect(asked).toHaveLength(attempts.length);
  });

  it("serves sockets that ask for a single address (autoSelectFamily off)", async () => {
    net.setDefaultAutoSelectFamily(false);
    loopbackOnlyConnections();
    const server = await echoServer();
    const { lookup } = resolver({ "as.localhost": ["127.0.0.1"] });
    const response = await guardNetwork(loopbackRules(lookup))(`http://as.localhost:${server.port}/one`);
    await expect(response.json()).resolves.toMatchObject({ path: "/one" });
  });

  // resolveAll read a one-string answer as family 0, which net.connect's happy-eyeballs path refuses
  // ("Invalid address family: 0"). dns.lookup always answers `all` with a list, so only a custom resolver
  // (the test seam) could hit it.
  it("connects when the resolver gives the connect-time answer as one string", async () => {
    loopbackOnlyConnections();
    const server = await echoServer();
    const { lookup } = resolver({ "as.localhost": "127.0.0.1" });
    const response = await guardNetwork(loopbackRules(lookup))(`http://as.localhost:${server.port}/one`);
    await expect(response.json()).resolves.toMatchObject({ path: "/one" });
  });

  it("with autoSelectFamily off, a rebinding name is still refused at connect time", async () => {
    net.setDefaultAutoSelectFamily(false);
    const attempts = loopbackOnlyConnections();
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "rebind.test": (call) => (call === 1 ? "203.0.113.20" : "127.0.0.1") });
    const error = await rejection(guardNetwork(rules(lookup))("https://rebind.test:8443/m"));
    expect(isOAuthError(error, "private_address") && error.message).toContain("rebind.test (127.0.0.1): a loopback address");
    expect(attempts).toEqual(["rebind.test"]);
  });

  it("a connect-time answer that mixes a public address with a private one is refused, whichever comes first", async () => {
    for (const mixed of [["203.0.113.20", "10.0.0.1"], ["10.0.0.1", "203.0.113.20"]]) {
      loopbackOnlyConnections();
      const { lookup } = resolver({ "mcp.test": "203.0.113.10", "mixed.test": (call) => (call === 1 ? "203.0.113.20" : mixed) });
      const error = await rejection(guardNetwork(rules(lookup))("https://mixed.test:8443/m"));
      expect(isOAuthError(error, "private_address") && error.message).toContain("mixed.test (10.0.0.1): a private address");
      vi.restoreAllMocks();
    }
  });

  it("a connect-time lookup that fails ends the request with fetch's network error at once, not with a hang", async () => {
    const attempts = loopbackOnlyConnections();
    const failing = Object.assign(new Error("getaddrinfo EAI_AGAIN flaky.localhost"), { code: "EAI_AGAIN" });
    // The MCP URL is loopback, so the guard's own check resolves nothing: the only lookup is the socket's.
    const { lookup, asked } = resolver({ "flaky.localhost": failing });
    const started = Date.now();
    const error = await rejection(guardNetwork(loopbackRules(lookup))("http://flaky.localhost:8080/m"));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(TypeError);
    const causes: unknown[] = [];
    for (let current: unknown = error; current instanceof Error && causes.length < 8; current = current.cause) causes.push(current);
    expect(causes).toContain(failing);
    expect(attempts).toEqual(["flaky.localhost"]);
    expect(asked).toEqual(["flaky.localhost"]);
  });
});
