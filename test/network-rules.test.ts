import type { LookupAddress } from "node:dns";
import { createServer, isIP, type AddressInfo, type LookupFunction } from "node:net";
import Keyv from "keyv";
import { MockAgent, request } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resolverSeam } from "../src/shared/guard-network.js";
import { isOAuthError, OAuth, type OAuthError, type OAuthOptions } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { loopbackOnlyConnections } from "./support/loopback-only.js";
import { asMetadata, startMetadataServer } from "./support/metadata-server.js";

/*
 * No test here sends a packet anywhere but 127.0.0.1. Names resolve through an injected resolver (never
 * DNS), the MCP requests to `mcp.test` are answered by undici's MockAgent or by a recording fetch, and
 * every socket the library opens goes through `connections` below, which lets through only connections
 * whose addresses are all 127.0.0.1, even if the code under test stopped checking.
 */

const closeLater = cleanupAfterEach();

/** The MCP URL of the "public" server: `mcp.test` resolves (by the injected resolver) to TEST-NET-3. */
const publicMcpUrl = "https://mcp.test/mcp";

type Answer = string | string[] | (() => string);

/** A `dns.lookup`-shaped resolver over a fixed table; an unknown name is ENOTFOUND. It records every name asked. */
function resolver(table: Record<string, Answer>) {
  const asked: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    asked.push(hostname);
    const entry = table[hostname];
    if (entry === undefined) {
      queueMicrotask(() => callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), "", 0));
      return;
    }
    const addresses = (typeof entry === "function" ? [entry()] : Array.isArray(entry) ? entry : [entry]).map((address) => ({ address, family: isIP(address) }));
    const [first] = addresses as [LookupAddress];
    queueMicrotask(() => (options.all ? callback(null, addresses) : callback(null, first.address, first.family)));
  }) as LookupFunction;
  return { lookup, asked };
}


afterEach(() => {
  vi.restoreAllMocks();
});

/** A TCP listener on 127.0.0.1 that only counts connections (a TLS client gets nowhere with it). */
async function tcpCounter(): Promise<{ port: number; count: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closeLater(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, count: () => count };
}

function options(lookup: LookupFunction, extra: Partial<OAuthOptions> = {}): OAuthOptions {
  return { mcpUrl: publicMcpUrl, tokenStorage: new Keyv(), openBrowser: () => undefined, logger: { warn: () => undefined }, [resolverSeam]: lookup, ...extra } as OAuthOptions;
}

/**
 * An MCP request to `mcp.test` through `oauth.interceptor()` over a MockAgent that answers 401 with
 * `resource_metadata` = `discovered`: the discovery that follows runs on the real back channel (the
 * built-in fetch), and its error is returned.
 */
async function discoverThroughBuiltInFetch(oauth: OAuth, discovered: string): Promise<unknown> {
  const mock = new MockAgent();
  mock.disableNetConnect();
  mock
    .get("https://mcp.test")
    .intercept({ path: "/mcp", method: "POST" })
    .reply(401, "", { headers: { "www-authenticate": `Bearer resource_metadata="${discovered}"` } })
    .persist();
  closeLater(() => mock.close());
  return request(publicMcpUrl, { dispatcher: mock.compose(oauth.interceptor()), method: "POST", body: "{}" }).then(
    () => new Error("the request succeeded"),
    (error: unknown) => error,
  );
}

function expectCode(error: unknown, code: OAuthError["code"]): OAuthError {
  if (!isOAuthError(error, code)) throw new Error(`expected OAuthError ${code}, got ${String(error)}`, { cause: error });
  return error;
}

describe("construction: http: MCP URLs", () => {
  it.each(["http://mcp.example.com/mcp", "http://10.0.0.5:8080/mcp", "http://169.254.169.254/mcp", "http://[fd00::1]/mcp"])("refuses %s (invalid_options naming mcpUrl)", (mcpUrl) => {
    const error = (() => {
      try {
        return new OAuth({ mcpUrl, tokenStorage: new Keyv() });
      } catch (caught) {
        return caught;
      }
    })();
    expect(expectCode(error, "invalid_options").message).toMatch(/`mcpUrl`.*clear text.*allowInsecureHttp/);
  });

  it.each(["http://localhost:3000/mcp", "http://dev.localhost/mcp", "http://127.0.0.2:1/mcp", "http://[::1]:9/mcp", "https://mcp.example.com/mcp"])("accepts %s", (mcpUrl) => {
    expect(() => new OAuth({ mcpUrl, tokenStorage: new Keyv() })).not.toThrow();
  });

  it("accepts any http: MCP URL with allowInsecureHttp, and refuses a non-boolean flag", () => {
    expect(() => new OAuth({ mcpUrl: "http://mcp.example.com/mcp", allowInsecureHttp: true, tokenStorage: new Keyv() })).not.toThrow();
    expect(() => new OAuth({ mcpUrl: "https://mcp.example.com/mcp", allowPrivateNetworks: "yes" as unknown as boolean, tokenStorage: new Keyv() })).toThrow(/allowPrivateNetworks/);
  });
});

describe("discovered http: URLs", () => {
  it("are refused for a non-loopback MCP URL even when they are loopback (insecure_endpoint), before any connection", async () => {
    const attempts = loopbackOnlyConnections();
    const server = await startMetadataServer();
    closeLater(server.close);
    const { lookup } = resolver({ "mcp.test": "203.0.113.10" });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup)), `${server.origin}/prm`);
    expect(expectCode(error, "insecure_endpoint").message).toContain("resource_metadata URL must use https:");
    expect(server.requested).toEqual([]);
    expect(attempts).toEqual([]);
  });

  it("are allowed with allowInsecureHttp (here with allowPrivateNetworks too, so that 127.0.0.1 may be reached)", async () => {
    loopbackOnlyConnections();
    const server = await startMetadataServer({ "/prm": { status: 500 } });
    closeLater(server.close);
    const { lookup } = resolver({ "mcp.test": "203.0.113.10" });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup, { allowInsecureHttp: true, allowPrivateNetworks: true })), `${server.origin}/prm`);
    expect(expectCode(error, "discovery_failed").message).toContain("unexpected HTTP 500");
    expect(server.requested).toEqual(["/prm"]);
  });

  it("on a host that is not loopback are refused even with allowInsecureHttp (C8), before any connection", async () => {
    const attempts = loopbackOnlyConnections();
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.11" });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup, { allowInsecureHttp: true })), "http://as.test/prm");
    expect(expectCode(error, "insecure_endpoint").message).toContain("resource_metadata URL must use https:");
    expect(asked).not.toContain("as.test");
    expect(attempts).toEqual([]);
  });

  it("on loopback are still allowed when the MCP URL is loopback too", async () => {
    const server = await startMetadataServer({ "/prm": { status: 500 } });
    closeLater(server.close);
    const mcp = await startMetadataServer({ "/mcp": { status: 401, headers: { "www-authenticate": `Bearer resource_metadata="${server.origin.replace("127.0.0.1", "localhost")}/prm"` } } });
    closeLater(mcp.close);
    const oauth = new OAuth({ mcpUrl: `${mcp.origin}/mcp`, tokenStorage: new Keyv(), logger: { warn: () => undefined } });
    const error = await oauth.fetch(`${mcp.origin}/mcp`, { method: "POST", body: "{}" }).catch((caught: unknown) => caught);
    expectCode(error, "discovery_failed");
    expect(server.requested).toEqual(["/prm"]);
  });
});

describe("a public MCP server cannot lead the client to a more private address (C10)", () => {
  const classes: [string, string, string][] = [
    ["loopback 127.0.0.1", "127.0.0.1", "loopback"],
    ["link-local 169.254.169.254 (cloud metadata)", "169.254.169.254", "link-local"],
    ["private 10.x", "10.1.2.3", "private"],
    ["private 192.168.x", "192.168.1.20", "private"],
    ["CGNAT 100.64.x", "100.64.0.1", "private"],
    ["unique-local fd00::1", "fd00::1", "private"],
    ["IPv4-mapped ::ffff:127.0.0.1", "::ffff:127.0.0.1", "loopback"],
    ["unspecified 0.0.0.0", "0.0.0.0", "loopback"],
  ];

  it.each(classes)("%s as a literal: private_address, no connection", async (_name, address, found) => {
    const attempts = loopbackOnlyConnections();
    const { lookup } = resolver({ "mcp.test": "203.0.113.10" });
    const host = isIP(address) === 6 ? `[${address}]` : address;
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup)), `https://${host}/latest/meta-data`);
    const refusal = expectCode(error, "private_address");
    expect(refusal.message).toContain(`a ${found} address, more private than the MCP server's (public)`);
    expect(attempts).toEqual([]);
  });

  it.each(classes)("%s behind a name (metadata.test): private_address naming host and address, no connection", async (_name, address, found) => {
    const attempts = loopbackOnlyConnections();
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "metadata.test": address });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://metadata.test/latest/meta-data?token=not-in-message");
    const refusal = expectCode(error, "private_address");
    expect(refusal.message).toContain(`metadata.test (${address}): a ${found} address`);
    expect(refusal.message).not.toContain("not-in-message");
    expect(asked).toContain("metadata.test");
    expect(attempts).toEqual([]);
  });

  it("a name with one refused address among public ones is refused; localhost without asking the resolver", async () => {
    const attempts = loopbackOnlyConnections();
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "mixed.test": ["203.0.113.20", "10.0.0.1"] });
    expectCode(await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://mixed.test/prm"), "private_address");
    expectCode(await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://api.localhost/prm"), "private_address");
    expect(asked).not.toContain("api.localhost");
    expect(attempts).toEqual([]);
  });

  it("a public discovered host passes the rule (and reaches the connection, which the test stops)", async () => {
    const attempts = loopbackOnlyConnections();
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.20" });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://as.test/prm");
    expect(expectCode(error, "discovery_failed").message).toContain("network error");
    expect(attempts).toEqual(["as.test"]);
  });

  it("a private MCP server may lead to private hosts, not to link-local or loopback ones", async () => {
    const attempts = loopbackOnlyConnections();
    const { lookup } = resolver({ "mcp.test": "10.0.0.5", "intranet.test": "192.168.7.7", "metadata.test": "169.254.169.254" });
    expectCode(await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://metadata.test/prm"), "private_address");
    expectCode(await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://127.0.0.1/prm"), "private_address");
    expect(attempts).toEqual([]);
    expectCode(await discoverThroughBuiltInFetch(new OAuth(options(lookup)), "https://intranet.test/prm"), "discovery_failed");
    expect(attempts).toEqual(["intranet.test"]);
  });
});

describe("DNS rebinding", () => {
  it("a name that resolves public when checked and 127.0.0.1 when connecting is refused by the connect-time lookup", async () => {
    const attempts = loopbackOnlyConnections();
    const target = await tcpCounter();
    let answers = 0;
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "rebind.test": () => (answers++ === 0 ? "203.0.113.10" : "127.0.0.1") });
    const error = await discoverThroughBuiltInFetch(new OAuth(options(lookup)), `https://rebind.test:${target.port}/prm`);
    expect(expectCode(error, "private_address").message).toContain("rebind.test (127.0.0.1): a loopback address");
    expect(asked.filter((name) => name === "rebind.test")).toHaveLength(2);
    expect(attempts).toEqual(["rebind.test"]); // the socket was created, its lookup refused: no connection
    expect(target.count()).toBe(0);
  });
});

describe("allowPrivateNetworks and origins named in options", () => {
  it("allowPrivateNetworks lifts the rule, names included", async () => {
    loopbackOnlyConnections();
    const server = await startMetadataServer({ "/prm": { status: 500 } });
    closeLater(server.close);
    const port = new URL(server.origin).port;
    // A name, not a literal; `localhost` because plain http to any other host is refused whatever the flags (C8).
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", localhost: "127.0.0.1" });
    const oauth = new OAuth(options(lookup, { allowPrivateNetworks: true, allowInsecureHttp: true }));
    expectCode(await discoverThroughBuiltInFetch(oauth, `http://localhost:${port}/prm`), "discovery_failed");
    expect(server.requested).toEqual(["/prm"]);
  });

  it("the authorizationServer option's origin is not held to the MCP server's class; other private hosts still are", async () => {
    loopbackOnlyConnections();
    const server = await startMetadataServer();
    closeLater(server.close);
    server.routes["/.well-known/oauth-protected-resource"] = { body: { resource: publicMcpUrl, authorization_servers: [server.origin] } };
    server.routes["/.well-known/oauth-authorization-server"] = { status: 500 };
    const { lookup } = resolver({ "mcp.test": "203.0.113.10" });
    const oauth = new OAuth(options(lookup, { authorizationServer: server.origin, allowInsecureHttp: true }));
    const error = await discoverThroughBuiltInFetch(oauth, `${server.origin}/.well-known/oauth-protected-resource`);
    expect(expectCode(error, "discovery_failed").message).toContain("unexpected HTTP 500");
    expect(server.requested).toEqual(["/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server"]);
    const other = await discoverThroughBuiltInFetch(oauth, `${server.origin.replace("127.0.0.1", "127.0.0.2")}/prm`);
    expectCode(other, "private_address");
  });
});

describe("with the user's own fetch", () => {
  /** A fetch that answers the MCP request with 401 pointing at `discovered`, and 404 to anything else, recording every URL. */
  function recordingFetch(discovered: string) {
    const calls: string[] = [];
    const fetch = async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input);
      calls.push(url.href);
      if (url.href === publicMcpUrl) return new Response(null, { status: 401, headers: { "www-authenticate": `Bearer resource_metadata="${discovered}"` } });
      return new Response(null, { status: 404 });
    };
    return { fetch, calls };
  }

  it("checks the host before handing the request over: a name resolving to 169.254.169.254 never reaches the fetch", async () => {
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "metadata.test": "169.254.169.254" });
    const user = recordingFetch("https://metadata.test/latest/meta-data");
    const oauth = new OAuth(options(lookup, { fetch: user.fetch }));
    const error = await oauth.fetch(publicMcpUrl, { method: "POST", body: "{}" }).catch((caught: unknown) => caught);
    expect(expectCode(error, "private_address").message).toContain("metadata.test (169.254.169.254): a link-local address");
    expect(user.calls).toEqual([publicMcpUrl]);
    expect(asked).toEqual(["mcp.test", "metadata.test"]);
  });

  it("a literal private address is refused the same way", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10" });
    const user = recordingFetch("https://[::ffff:7f00:1]/prm");
    const oauth = new OAuth(options(lookup, { fetch: user.fetch }));
    expectCode(await oauth.fetch(publicMcpUrl, { method: "POST", body: "{}" }).catch((caught: unknown) => caught), "private_address");
    expect(user.calls).toEqual([publicMcpUrl]);
  });

  it("a public host is resolved once and handed over (its own connection, and any rebinding there, are the fetch's)", async () => {
    const { lookup, asked } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.20" });
    const user = recordingFetch("https://as.test/prm");
    const oauth = new OAuth(options(lookup, { fetch: user.fetch }));
    await oauth.fetch(publicMcpUrl, { method: "POST", body: "{}" }).catch(() => undefined);
    expect(user.calls.slice(0, 2)).toEqual([publicMcpUrl, "https://as.test/prm"]);
    expect(asked.filter((name) => name === "as.test")).toHaveLength(1);
  });
});

describe("issuer and endpoints from metadata", () => {
  it("a token endpoint on a private address named by public metadata is refused before the token request", async () => {
    const { lookup } = resolver({ "mcp.test": "203.0.113.10", "as.test": "203.0.113.20", "vault.test": "10.0.0.9" });
    const calls: string[] = [];
    const fetch = async (input: string | URL | Request) => {
      const url = new URL(input instanceof Request ? input.url : input);
      calls.push(url.href);
      if (url.href === "https://mcp.test/.well-known/oauth-protected-resource/mcp") return Response.json({ resource: publicMcpUrl, authorization_servers: ["https://as.test"] });
      if (url.href === "https://as.test/.well-known/oauth-authorization-server") return Response.json(asMetadata("https://as.test", { token_endpoint: "https://vault.test/token", registration_endpoint: "https://vault.test/register" }));
      return new Response(null, { status: 404 });
    };
    const oauth = new OAuth(options(lookup, { fetch, grant: "client_credentials", clientId: "job", clientSecret: "s3cret" }));
    const error = await oauth.getAccessToken().catch((caught: unknown) => caught);
    expect(expectCode(error, "private_address").message).toContain("vault.test (10.0.0.9)");
    expect(calls.some((url) => url.includes("vault.test"))).toBe(false);
  });
});
