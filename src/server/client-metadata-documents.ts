import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent, fetch as undiciFetch } from "undici";
import { readAtMost } from "../shared/back-channel.js";
import { classifyAddress, ipLiteral, isLoopbackHostname, type AddressClass } from "../shared/classify-address.js";
import type { ResolvedClientMetadataDocuments, ResolvedProviderOptions } from "./options.js";
import { validateClientMetadata } from "./handle-register.js";
import { OAuthServerError } from "./server-errors.js";
import type { RegisteredClient } from "./types.js";

/** Whether a `client_id` names a metadata document (an `https:` URL); such ids never reach `getClient`. */
export function isClientIdUrl(clientId: string): boolean {
  return clientId.startsWith("https://");
}

/**
 * Why an `https:` client id cannot name a metadata document, or undefined. The id is compared as the
 * exact string, so it must already be in the one spelling the URL parser gives it: that refuses dot
 * segments, backslashes, control characters, an upper-case host or a default port, each of which would
 * let two strings name one document (or one string two documents).
 */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > 2000) return "is longer than 2000 characters";
  if (!URL.canParse(clientId)) return "is not a URL";
  const url = new URL(clientId);
  if (url.protocol !== "https:") return "must use https:";
  if (clientId.includes("#")) return "must not contain a fragment";
  if (url.username || url.password) return "must not contain credentials";
  if (url.pathname === "/") return "must have a path (the document's own, not the site's root)";
  if (url.href !== clientId) return "is not in canonical form (dot segments, backslashes, control characters, upper-case host or default port)";
  return undefined;
}

interface Cached {
  client: RegisteredClient;
  expiresAt: number;
}

/**
 * The clients named by metadata document URLs: fetched under the SSRF rules of S10 (https only; every
 * address of the host public, checked again at connection time so DNS rebinding cannot dodge it; no
 * redirects; size and time caps), validated as `/register` validates metadata, and cached (least
 * recently used out first, Cache-Control within bounds). Concurrent requests for one URL share one fetch.
 */
export class ClientMetadataDocuments {
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<RegisteredClient>>();
  readonly #agent: Agent;
  readonly #o: ResolvedClientMetadataDocuments;

  readonly #provider: ResolvedProviderOptions & { clientMetadataDocuments: ResolvedClientMetadataDocuments };

  constructor(provider: ResolvedProviderOptions & { clientMetadataDocuments: ResolvedClientMetadataDocuments }) {
    this.#provider = provider;
    const o = provider.clientMetadataDocuments;
    this.#o = o;
    // A document is fetched once per cache period, so a kept-alive connection saves nothing, while a host
    // answering `Keep-Alive: timeout=600` would hold a socket per name for ten minutes: one second, at most.
    this.#agent = new Agent({
      keepAliveTimeout: 1000,
      keepAliveMaxTimeout: 1000,
      connect: { lookup: publicOnlyLookup(o), ...(o.ca === undefined ? {} : { ca: o.ca }) },
    });
  }

  /** The client the document at `clientId` describes; throws `invalid_client` (bad document) or `temporarily_unavailable` (unreachable). */
  async get(clientId: string): Promise<RegisteredClient> {
    const cached = this.#cache.get(clientId);
    if (cached && cached.expiresAt > this.#provider.now()) {
      // Map order is the LRU order: a hit moves to the end.
      this.#cache.delete(clientId);
      this.#cache.set(clientId, cached);
      return cached.client;
    }
    let flight = this.#inFlight.get(clientId);
    if (!flight) {
      flight = this.#load(clientId).finally(() => this.#inFlight.delete(clientId));
      this.#inFlight.set(clientId, flight);
    }
    return flight;
  }

  async #load(clientId: string): Promise<RegisteredClient> {
    const problem = clientIdUrlProblem(clientId);
    if (problem) throw refused(clientId, `the client id ${problem}`);
    const url = new URL(clientId);
    if (this.#o.allowFetch && !(await this.#o.allowFetch(url))) throw refused(clientId, "this server does not accept documents from that host");
    const { body, maxAgeMs } = await this.#fetch(url);
    const client = this.#validate(clientId, body);
    if (this.#o.allowClient && !(await this.#o.allowClient(client))) throw refused(clientId, "the client was refused by this server's policy");
    this.#cache.delete(clientId);
    this.#cache.set(clientId, { client, expiresAt: this.#provider.now() + Math.min(Math.max(maxAgeMs, this.#o.cacheMinMs), this.#o.cacheMaxMs) });
    while (this.#cache.size > this.#o.cacheEntries) this.#cache.delete(this.#cache.keys().next().value as string);
    return client;
  }

  async #fetch(url: URL): Promise<{ body: unknown; maxAgeMs: number }> {
    const ip = ipLiteral(url.hostname);
    if (!this.#o.allowPrivateNetworks) {
      // IP literals and loopback names never reach the connect-time lookup: checked here.
      const found = isLoopbackHostname(url.hostname) ? "loopback" : ip === undefined ? undefined : classifyAddress(ip);
      if (found && found !== "public") throw refused(url.href, `its host is a ${found} address`);
    }
    const signal = AbortSignal.timeout(this.#o.timeoutMs);
    let text: string;
    let cacheControl: string | null;
    try {
      const response = await undiciFetch(url, { dispatcher: this.#agent, redirect: "manual", signal, headers: { accept: "application/json" } });
      const problem = this.#answerProblem(url.href, response.status, response.headers);
      if (problem) {
        await response.body?.cancel();
        throw problem;
      }
      text = response.body ? Buffer.from(await readAtMost(response.body as ReadableStream<Uint8Array>, this.#o.maxBytes, () => this.#tooLarge(url.href))).toString("utf8") : "";
      cacheControl = response.headers.get("cache-control");
    } catch (error) {
      if (error instanceof OAuthServerError) throw error;
      const refusal = addressRefusalIn(error);
      if (refusal) throw refused(url.href, refusal);
      const why = signal.aborted ? `it did not answer within ${this.#o.timeoutMs} ms` : "it could not be reached";
      throw unavailable(url.href, why, error);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw refused(url.href, "it is not valid JSON");
    }
    return { body, maxAgeMs: maxAge(cacheControl) };
  }

  /** Why an answer's head rules its document out (status, content type, announced size), or undefined. */
  #answerProblem(href: string, status: number, headers: Headers): OAuthServerError | undefined {
    if (status >= 300 && status < 400) return refused(href, `it answered ${status}: redirects are not followed`);
    if (status >= 500 || status === 429) return unavailable(href, `it answered ${status}`);
    if (status !== 200) return refused(href, `it answered ${status}`);
    const type = (headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (type !== "application/json" && !type.endsWith("+json")) return refused(href, `its content type is ${JSON.stringify(type.slice(0, 100))}, not application/json`);
    // An announced oversized body is refused before it is read; with no Content-Length, Number(null) is 0.
    if (Number(headers.get("content-length")) > this.#o.maxBytes) return this.#tooLarge(href);
    return undefined;
  }

  #tooLarge(href: string): OAuthServerError {
    return refused(href, `it is larger than ${this.#o.maxBytes} bytes`);
  }

  #validate(clientId: string, body: unknown): RegisteredClient {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw refused(clientId, "it is not a JSON object");
    const document = body as Record<string, unknown>;
    if (document.client_id !== clientId) throw refused(clientId, "its client_id is not the URL it was fetched from");
    // A document is public: a secret in it is no secret, and a shared-secret method could never authenticate.
    const secretField = ["client_secret", "client_secret_expires_at"].find((field) => field in document);
    if (secretField) throw refused(clientId, `it contains ${secretField}`);
    const method = document.token_endpoint_auth_method ?? "none";
    if (method !== "none") throw refused(clientId, `token_endpoint_auth_method ${JSON.stringify(String(method).slice(0, 50))} is not supported for metadata documents; use "none"`);
    const { client_id: _id, scope, ...rest } = document;
    // A document is shared by every server the client talks to: a scope this server does not know narrows
    // the client's default scope, as RFC 7591 §3.2.1 lets a server do, instead of refusing the client.
    const known = typeof scope === "string" ? scope.split(" ").filter((s) => this.#provider.registration.validScopes.includes(s)) : [];
    let metadata;
    try {
      metadata = validateClientMetadata({ ...rest, token_endpoint_auth_method: "none", ...(known.length > 0 ? { scope: known.join(" ") } : {}) }, this.#provider);
    } catch (error) {
      if (error instanceof OAuthServerError) throw refused(clientId, error.description);
      throw error;
    }
    return { ...metadata, client_id: clientId, client_id_issued_at: Math.floor(this.#provider.now() / 1000) };
  }
}

/** `max-age` of a Cache-Control header, in ms; 0 for `no-store`, `no-cache` or none. */
function maxAge(header: string | null): number {
  const directives = (header ?? "").toLowerCase().split(",").map((d) => d.trim());
  if (directives.some((d) => d === "no-store" || d === "no-cache")) return 0;
  const age = directives.find((d) => d.startsWith("max-age="))?.slice("max-age=".length);
  return age !== undefined && /^\d+$/.test(age) ? Number(age) * 1000 : 0;
}

/**
 * The connection's own lookup: every address of the name resolved and checked, one non-public address
 * refuses the name (an answer mixing a public address with 127.0.0.1 must not let happy eyeballs pick),
 * and the socket gets only the checked list, so a second, different answer (DNS rebinding) is checked too.
 */
export function publicOnlyLookup(o: Pick<ResolvedClientMetadataDocuments, "lookup" | "allowPrivateNetworks">): LookupFunction {
  return (hostname, options, callback) => {
    o.lookup(hostname, { all: true, ...(options.family ? { family: options.family } : {}) }, (error, answer) => {
      if (error) return callback(error, "", 0);
      // A resolver that answers one address despite `all` (a custom one may): its family is the address's own.
      const addresses: LookupAddress[] = typeof answer === "string" ? [{ address: answer, family: isIP(answer) }] : answer;
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      if (!o.allowPrivateNetworks) {
        const bad = addresses.map(({ address }) => ({ address, found: classifyAddress(address) })).find(({ found }) => found !== "public");
        if (bad) return callback(new AddressRefusal(hostname, bad.address, bad.found), "", 0);
      }
      const [first] = addresses as [LookupAddress];
      return options.all ? callback(null, addresses) : callback(null, first.address, first.family);
    });
  };
}

/** The connect-time refusal; undici wraps it as the cause of "fetch failed". */
class AddressRefusal extends Error {
  constructor(hostname: string, address: string, found: AddressClass) {
    super(`its host ${hostname} resolves to ${address}, a ${found} address`);
  }
}

function addressRefusalIn(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    if (current instanceof AddressRefusal) return current.message;
  }
  return undefined;
}

function refused(clientId: string, why: string): OAuthServerError {
  return new OAuthServerError("invalid_client", `the client metadata document ${JSON.stringify(clientId.slice(0, 200))} cannot be used: ${why}`, 400);
}

function unavailable(clientId: string, why: string, cause?: unknown): OAuthServerError {
  return new OAuthServerError("temporarily_unavailable", `the client metadata document ${JSON.stringify(clientId.slice(0, 200))} could not be fetched: ${why}; try again later`, 503, cause === undefined ? undefined : { cause });
}
