import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from "undici";
import { assertSecureEndpoint, type FetchLike } from "./back-channel.js";
import { classifyAddress, ipLiteral, isLoopbackHostname, leastPrivate, morePrivate, type AddressClass } from "./classify-address.js";
import { isOAuthError, OAuthError } from "./errors.js";

/** What the back channel enforces on every request (docs/security.md, "Network rules"). */
export interface NetworkRules {
  /** The MCP URL: its class is the most private any other request may reach. */
  mcpUrl: URL;
  /** Development only: an `http:` MCP URL on any host, and discovered `http:` URLs on loopback hosts. */
  allowInsecureHttp: boolean;
  /** No address-class rule at all. */
  allowPrivateNetworks: boolean;
  /**
   * Origins the user named in options (`identityProvider.tokenEndpoint`, `authorizationServer`): the MCP
   * server did not choose them, so they are not held to its class.
   */
  namedOrigins: ReadonlySet<string>;
  /** Resolves names, as `dns.lookup` does; tests inject one (see {@link resolverSeam}). */
  lookup: LookupFunction;
  /** The user's own fetch, when one was passed: its connections are out of our sight. */
  userFetch: FetchLike | undefined;
}

/**
 * The resolver seam, for tests: `new OAuth({ ..., [resolverSeam]: lookup })` with a `dns.lookup`-shaped
 * function makes every name the network rules resolve (the MCP URL's host, each back-channel host, and
 * each connection of the built-in fetch) go through it, so a test can map `metadata.test` to
 * 169.254.169.254 without DNS and without ever connecting there. Not exported from the package: a
 * deployment that needs another resolver needs it for all its traffic, which its `fetch` already decides.
 */
export const resolverSeam: unique symbol = Symbol("mcp-oauth.resolver");

/** The default resolver: the one `net.connect` itself would use. */
export const systemLookup = dnsLookup as LookupFunction;

/**
 * The fetch under the back channel (every metadata, registration, token and revocation request), with
 * the network rules applied before anything is sent:
 *
 * 1. the scheme: `https:`, `http:` only when this host and the MCP URL's are loopback, or on a loopback
 *    host with `allowInsecureHttp` (never on another host: C8);
 * 2. the address class: the host (an IP literal, else every address the resolver gives for the name) may
 *    not be more private than the MCP URL's host (public < private < link-local < loopback), unless the
 *    origin was named in options or `allowPrivateNetworks` is set;
 * 3. with the built-in fetch (no `fetch` option), the connection itself: undici's `fetch` on an `Agent`
 *    whose `connect.lookup` resolves again, checks every address and hands only checked ones to the
 *    socket, so a name that answers otherwise the second time (DNS rebinding) is still refused. A user's
 *    `fetch` makes its own connections: steps 1 and 2 run on the URL before it is handed over, and
 *    rebinding between our resolution and its own is its concern, as is whatever a proxy it goes through
 *    resolves (the check is on the target host as we name and resolve it, never on the proxy's address).
 *
 * A refusal is `private_address` (or `insecure_endpoint`), thrown before any connection. The responses
 * are undici's own; `createBackChannelFetch` turns them into global `Response`s.
 */
export function guardNetwork(rules: NetworkRules): FetchLike {
  const agents = new Map<AddressClass, Agent>();
  const agentFor = (ceiling: AddressClass): Agent => {
    let agent = agents.get(ceiling);
    if (!agent) {
      agent = new Agent({ connect: { lookup: checkedLookup(rules.lookup, ceiling) } });
      agents.set(ceiling, agent);
    }
    return agent;
  };
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    assertSecureEndpoint(url, `the URL ${url.origin}`, rules);
    const ceiling = rules.allowPrivateNetworks || rules.namedOrigins.has(url.origin) ? "loopback" : await hostClass(rules.mcpUrl.hostname, rules.lookup);
    await assertNotMorePrivate(url.hostname, ceiling, rules.lookup);
    if (rules.userFetch) return rules.userFetch(input, init);
    try {
      const [target, options] = await unpack(input, init);
      const response = await undiciFetch(target, { ...(options as UndiciRequestInit), dispatcher: agentFor(ceiling) });
      return response as unknown as Response;
    } catch (error) {
      // undici reports the refusal of the connect-time lookup as the cause of "fetch failed".
      throw refusalIn(error) ?? error;
    }
  };
}

/**
 * The class of the MCP URL's host: a loopback name or an IP literal as it stands, a name by its least
 * private address (a host with one public address is public, whatever else it has).
 */
async function hostClass(hostname: string, lookup: LookupFunction): Promise<AddressClass> {
  if (isLoopbackHostname(hostname)) return "loopback";
  const ip = ipLiteral(hostname);
  if (ip !== undefined) return classifyAddress(ip);
  return leastPrivate((await resolveAll(hostname, lookup)).map(({ address }) => classifyAddress(address)));
}

/** Step 2: every address of `hostname` at most as private as `ceiling`. */
async function assertNotMorePrivate(hostname: string, ceiling: AddressClass, lookup: LookupFunction): Promise<void> {
  if (ceiling === "loopback") return; // nothing is more private
  if (isLoopbackHostname(hostname)) throw privateAddress(hostname, hostname, "loopback", ceiling);
  const ip = ipLiteral(hostname);
  const addresses = ip === undefined ? (await resolveAll(hostname, lookup)).map(({ address }) => address) : [ip];
  for (const address of addresses) {
    const found = classifyAddress(address);
    if (morePrivate(found, ceiling)) throw privateAddress(hostname, address, found, ceiling);
  }
}

/**
 * Step 3: the `lookup` of the built-in fetch's sockets. All addresses are resolved and checked, and one
 * refused address refuses the name (an attacker's answer may mix a public address with 127.0.0.1 and let
 * happy eyeballs pick); the socket gets only the checked list. IP literals never reach a lookup: step 2
 * checked them, and they cannot change.
 */
function checkedLookup(lookup: LookupFunction, ceiling: AddressClass): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === "IPv4" ? 4 : options.family === "IPv6" ? 6 : options.family;
    resolveAll(hostname, lookup, family).then(
      (addresses) => {
        const refused = addresses.map(({ address }) => ({ address, found: classifyAddress(address) })).find(({ found }) => morePrivate(found, ceiling));
        if (refused) return callback(privateAddress(hostname, refused.address, refused.found, ceiling), "", 0);
        const [first] = addresses as [LookupAddress];
        return options.all ? callback(null, addresses) : callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

/** Every address of a name; a failure reads as fetch's own network error (`discovery_failed`, transient). */
function resolveAll(hostname: string, lookup: LookupFunction, family?: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    lookup(hostname, { all: true, ...(family ? { family } : {}) }, (error, addresses) => {
      if (error) return reject(new TypeError("fetch failed", { cause: error }));
      // A resolver may answer `all` with one string; its family comes from the address itself (0 would be refused by net.connect).
      const list = typeof addresses === "string" ? [{ address: addresses, family: family || isIP(addresses) }] : addresses;
      if (list.length === 0) return reject(new TypeError("fetch failed", { cause: Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }) }));
      resolve(list);
    });
  });
}

function privateAddress(hostname: string, address: string, found: AddressClass, ceiling: AddressClass): OAuthError {
  const where = address === hostname ? hostname : `${hostname} (${address})`;
  return new OAuthError(
    "private_address",
    `refused to connect to ${where}: a ${found} address, more private than the MCP server's (${ceiling}); a URL the MCP server leads to may not reach a more private network (\`allowPrivateNetworks\` lifts this rule). Nothing was sent.`,
  );
}

/** The `private_address` refusal in an error's cause chain, if any. */
function refusalIn(error: unknown): OAuthError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    if (isOAuthError(current, "private_address")) return current;
  }
  return undefined;
}

/** undici's fetch takes no global `Request`: its parts go in `init` instead (the back channel never passes one). */
async function unpack(input: string | URL | Request, init: RequestInit | undefined): Promise<[string | URL, RequestInit]> {
  if (!(input instanceof Request)) return [input, init ?? {}];
  const body = input.method === "GET" || input.method === "HEAD" ? null : await input.arrayBuffer();
  return [input.url, { method: input.method, headers: input.headers, body, signal: input.signal, ...init }];
}
