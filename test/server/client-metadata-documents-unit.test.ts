/**
 * The metadata document fetcher on its own (`ClientMetadataDocuments`, `clientIdUrlProblem`,
 * `publicOnlyLookup`), one rule per test: the words of each refusal, the status boundaries, the content
 * type and size rules, the cache's clock, the scope narrowing and the connect-time lookup. Written from
 * the module's mutation survivors; the end-to-end behaviour is in client-metadata-documents.test.ts and
 * the attacks in attack-cimd.test.ts. Documents come from a loopback HTTPS server with a certificate
 * made for this run, reached through an injected resolver.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ClientMetadataDocuments, clientIdUrlProblem, publicOnlyLookup } from "../../src/server/client-metadata-documents.js";
import { resolveProviderOptions, type ClientMetadataDocumentOptions, type OAuthProviderOptions } from "../../src/server/options.js";
import { OAuthServerError } from "../../src/server/server-errors.js";
import { loopbackOnlyConnections } from "../support/loopback-only.js";
import { testCertificate } from "../support/test-certificate.js";
import { documentFor, resolveTo, startDocumentServer, type DocumentServer } from "./cimd-support.js";

let certificate: { key: string; cert: string };
beforeAll(() => {
  certificate = testCertificate(["client.example.test", "localhost"]);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const clock = { now: 1_700_000_000_000 };

type Handler = (request: IncomingMessage, response: ServerResponse, url: string) => void;

/** The document server; `handler` also gets the URL the request was made for. */
function documentServer(handler: Handler = serveDocument()): Promise<DocumentServer> {
  return startDocumentServer(certificate, (request, response) => handler(request, response, `https://${request.headers.host ?? ""}${request.url ?? "/"}`));
}

/** All requests a document server answered. */
const hitsOf = (served: DocumentServer) => [...served.hits.values()].reduce((sum, n) => sum + n, 0);

/** Answers the right document for the URL asked, with `headers` and `extra` fields. */
function serveDocument(headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Handler {
  return (_request, response, url) => {
    const body = JSON.stringify(documentFor(url, extra));
    response.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers }).end(body);
  };
}

function documents(options: Partial<ClientMetadataDocumentOptions> = {}, provider: Partial<OAuthProviderOptions> = {}): ClientMetadataDocuments {
  const resolved = resolveProviderOptions({
    baseUrl: "http://127.0.0.1:9",
    now: () => clock.now,
    clientMetadataDocuments: { enabled: true, allowPrivateNetworks: true, ca: certificate.cert, lookup: resolveTo(), ...options },
    ...provider,
  });
  return new ClientMetadataDocuments({ ...resolved, clientMetadataDocuments: resolved.clientMetadataDocuments! });
}

/** The OAuthServerError a promise rejects with (anything else fails the test). */
async function refusal(promise: Promise<unknown>): Promise<OAuthServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OAuthServerError);
  return error as OAuthServerError;
}

describe("clientIdUrlProblem: the one spelling a metadata document URL may have", () => {
  const base = "https://client.example.test/";

  it("takes 2000 characters and refuses 2001", () => {
    expect(clientIdUrlProblem(base + "a".repeat(2000 - base.length))).toBeUndefined();
    expect(clientIdUrlProblem(base + "a".repeat(2001 - base.length))).toBe("is longer than 2000 characters");
  });

  it("says what is wrong with each kind of bad id", () => {
    expect(clientIdUrlProblem("https://client example.test/app")).toBe("is not a URL");
    expect(clientIdUrlProblem("http://client.example.test/app")).toBe("must use https:");
    expect(clientIdUrlProblem("https://client.example.test/app#x")).toBe("must not contain a fragment");
    expect(clientIdUrlProblem("https://client.example.test/")).toBe("must have a path (the document's own, not the site's root)");
    expect(clientIdUrlProblem("https://Client.example.test/app")).toMatch(/^is not in canonical form/);
  });

  it("refuses a user name alone, a password alone, and both", () => {
    for (const id of ["https://user@client.example.test/app", "https://:secret@client.example.test/app", "https://user:secret@client.example.test/app"]) {
      expect(clientIdUrlProblem(id), id).toBe("must not contain credentials");
    }
  });
});

describe("fetching a document", () => {
  it("asks for JSON", async () => {
    const served = await documentServer();
    await documents().get(served.url("/app"));
    expect(served.requests.map((headers) => headers.accept)).toEqual(["application/json"]);
  });

  it("refuses every 3xx as a redirect, a 304 without a body too, and 400 as an answer, not a redirect", async () => {
    for (const [status, words] of [
      [300, "it answered 300: redirects are not followed"],
      [304, "it answered 304: redirects are not followed"],
      [399, "it answered 399: redirects are not followed"],
      [400, "it answered 400"],
      [204, "it answered 204"],
    ] as const) {
      const served = await documentServer((_request, response) => response.writeHead(status, { location: "https://elsewhere.example.test/app" }).end());
      const error = await refusal(documents().get(served.url("/app")));
      expect([error.error, error.status], String(status)).toEqual(["invalid_client", 400]);
      expect(error.description.endsWith(words), `${status}: ${error.description}`).toBe(true);
    }
  });

  it("answers temporarily_unavailable (503) to a 429 and a 5xx, with no cause of its own", async () => {
    for (const status of [429, 500, 503]) {
      const served = await documentServer((_request, response) => response.writeHead(status).end("busy"));
      const error = await refusal(documents().get(served.url("/app")));
      expect([error.error, error.status], String(status)).toEqual(["temporarily_unavailable", 503]);
      expect(error.description).toContain(`could not be fetched: it answered ${status}; try again later`);
      expect("cause" in error).toBe(false);
    }
  });

  it("takes application/json with parameters and spaces, and any +json type", async () => {
    for (const type of ["application/json ; charset=utf-8", "Application/JSON", "application/example+json"]) {
      const served = await documentServer(serveDocument({ "content-type": type }));
      await expect(documents().get(served.url("/app")), type).resolves.toMatchObject({ client_name: "Example CIMD client" });
    }
  });

  it("names the content type it refuses: none at all, or the first 100 characters of a long one", async () => {
    const none = await documentServer((_request, response, url) => response.writeHead(200).end(JSON.stringify(documentFor(url))));
    expect((await refusal(documents().get(none.url("/app")))).description).toContain('its content type is "", not application/json');
    const long = `text/${"x".repeat(200)}`;
    const served = await documentServer(serveDocument({ "content-type": long }));
    const error = await refusal(documents().get(served.url("/app")));
    expect(error.description).toContain(`its content type is "${long.slice(0, 100)}", not application/json`);
  });

  it("refuses an announced oversized body at once, without waiting for it", async () => {
    const served = await documentServer((_request, response) => {
      // 6000 bytes announced and none sent: only the Content-Length check can answer before the timeout.
      response.writeHead(200, { "content-type": "application/json", "content-length": "6000" });
      response.flushHeaders();
    });
    const error = await refusal(documents({ timeoutMs: 3000 }).get(served.url("/app")));
    expect(error.description).toContain("it is larger than 5120 bytes");
  });

  it("takes a body of exactly maxBytes", async () => {
    const served = await documentServer();
    const size = Buffer.byteLength(JSON.stringify(documentFor(served.url("/app"))));
    await expect(documents({ maxBytes: size }).get(served.url("/app"))).resolves.toMatchObject({ client_id: served.url("/app") });
    await expect(refusal(documents({ maxBytes: size - 1 }).get(served.url("/app")))).resolves.toMatchObject({ message: expect.stringContaining(`larger than ${size - 1} bytes`) });
  });

  it("refuses JSON that is not an object: a string, a number, null, an array", async () => {
    for (const body of ['"https://client.example.test/app"', "42", "null", "[]"]) {
      const served = await documentServer((_request, response) => response.writeHead(200, { "content-type": "application/json" }).end(body));
      const error = await refusal(documents().get(served.url("/app")));
      expect(error.description, body).toContain("it is not a JSON object");
    }
  });

  it("quotes at most 50 characters of an unsupported authentication method", async () => {
    const method = "m".repeat(80);
    const served = await documentServer(serveDocument({}, { token_endpoint_auth_method: method }));
    const error = await refusal(documents().get(served.url("/app")));
    expect(error.description).toContain(`token_endpoint_auth_method "${"m".repeat(50)}" is not supported`);
  });

  it("quotes at most 200 characters of a long client id, refused or unreachable", async () => {
    const long = `https://client.example.test/${"p".repeat(400)}`;
    const refused = await refusal(documents({ allowFetch: () => false }).get(long));
    expect(refused.description).toContain(`the client metadata document "${long.slice(0, 200)}" cannot be used`);
    const failing: LookupFunction = (_hostname, _options, callback) => queueMicrotask(() => callback(Object.assign(new Error("no such host"), { code: "ENOTFOUND" }), "", 0));
    const unreachable = await refusal(documents({ lookup: failing }).get(long));
    expect([unreachable.error, unreachable.status]).toEqual(["temporarily_unavailable", 503]);
    expect(unreachable.description).toContain(`the client metadata document "${long.slice(0, 200)}" could not be fetched: it could not be reached`);
    expect(unreachable.cause).toBeInstanceOf(Error);
  });

  it("with allowPrivateNetworks, fetches from a loopback name; without, an IP literal that is public passes the early check", async () => {
    const served = await documentServer();
    await expect(documents().get(served.url("/app", "localhost"))).resolves.toMatchObject({ client_name: "Example CIMD client" });
    // Without allowPrivateNetworks a public literal goes on to connect (stopped here by the loopback-only
    // net): unreachable, not refused as a non-public address.
    loopbackOnlyConnections();
    const error = await refusal(documents({ allowPrivateNetworks: false, timeoutMs: 2000 }).get("https://8.8.8.8/app"));
    expect(error.error).toBe("temporarily_unavailable");
  });
});

describe("the client a document makes", () => {
  const scopes = { clientRegistration: { validScopes: ["read", "write", "admin"], defaultScopes: ["read"] } };

  it("keeps the scopes this server knows, in order, and drops the others", async () => {
    const served = await documentServer(serveDocument({}, { scope: "write other read" }));
    await expect(documents({}, scopes).get(served.url("/app"))).resolves.toMatchObject({ scope: "write read" });
  });

  it("falls back to the default scope when the document asks for none this server knows, or for none at all", async () => {
    for (const extra of [{ scope: "other" }, {}]) {
      const served = await documentServer(serveDocument({}, extra));
      await expect(documents({}, scopes).get(served.url("/app")), JSON.stringify(extra)).resolves.toMatchObject({ scope: "read" });
    }
  });

  it("is issued now, in seconds", async () => {
    clock.now = 1_700_000_123_999;
    const served = await documentServer();
    await expect(documents().get(served.url("/app"))).resolves.toMatchObject({ client_id_issued_at: 1_700_000_123 });
  });
});

describe("the cache's clock", () => {
  /** How many fetches a second `get` at `later` ms causes, after a first at the current clock with `cacheControl`. */
  async function fetchesAfter(cacheControl: string | undefined, later: number): Promise<number> {
    const served = await documentServer(serveDocument(cacheControl === undefined ? {} : { "cache-control": cacheControl }));
    const cache = documents();
    const start = clock.now;
    await cache.get(served.url("/app"));
    clock.now = start + later;
    await cache.get(served.url("/app"));
    return hitsOf(served);
  }

  it("keeps a document until the moment it expires, not at that moment", async () => {
    expect(await fetchesAfter(undefined, 59_999)).toBe(1);
    expect(await fetchesAfter(undefined, 60_000)).toBe(2);
  });

  it("reads max-age among other directives, with spaces", async () => {
    expect(await fetchesAfter("public, max-age=120", 90_000)).toBe(1);
    expect(await fetchesAfter("max-age=120", 90_000)).toBe(1);
    expect(await fetchesAfter("max-age=120", 120_000)).toBe(2);
  });

  it("lets no-cache and no-store win over max-age (the minimum applies)", async () => {
    expect(await fetchesAfter("no-cache, max-age=600", 61_000)).toBe(2);
    expect(await fetchesAfter("max-age=600, no-store", 61_000)).toBe(2);
  });

  it("reads a max-age that is not all digits as none: the minimum, still cached", async () => {
    for (const header of ["max-age=x120", "max-age=120x"]) {
      expect(await fetchesAfter(header, 30_000), header).toBe(1);
      expect(await fetchesAfter(header, 61_000), header).toBe(2);
    }
  });
});

describe("publicOnlyLookup: the connection's own resolver", () => {
  type Answer = { error?: NodeJS.ErrnoException; answer?: string | LookupAddress[] };
  /** Runs the lookup over a resolver answering `given`; what the resolver was asked and what the socket gets. */
  function run(given: Answer, options: { family?: number | "IPv4" | "IPv6"; all?: boolean } = {}, allowPrivateNetworks = false) {
    const asked: unknown[] = [];
    const resolver = ((_hostname: string, lookupOptions: unknown, callback: (error: NodeJS.ErrnoException | null, answer?: string | LookupAddress[]) => void) => {
      asked.push(lookupOptions);
      callback(given.error ?? null, given.answer);
    }) as unknown as LookupFunction;
    let result: unknown[] = [];
    publicOnlyLookup({ lookup: resolver, allowPrivateNetworks })("client.example.test", options as never, (...args: unknown[]) => {
      result = args;
    });
    return { asked, result };
  }
  const publicV4 = { address: "93.184.216.34", family: 4 };
  const publicV6 = { address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 };

  it("asks for every address, of the family the socket asks for, and no family when it asks for none", () => {
    expect(run({ answer: [publicV4] }, { family: 4 }).asked).toEqual([{ all: true, family: 4 }]);
    expect(run({ answer: [publicV6] }, { family: "IPv6" }).asked).toEqual([{ all: true, family: "IPv6" }]);
    expect(run({ answer: [publicV4] }, { family: 0 }).asked).toEqual([{ all: true }]);
    expect(run({ answer: [publicV4] }).asked).toEqual([{ all: true }]);
  });

  it("passes a resolver's error on as it is", () => {
    const error = Object.assign(new Error("no such host"), { code: "ENOTFOUND" });
    expect(run({ error }).result[0]).toBe(error);
  });

  it("takes a single address answered despite `all`, with the address's own family", () => {
    expect(run({ answer: publicV6.address }).result).toEqual([null, publicV6.address, 6]);
    expect(run({ answer: publicV4.address }, { all: true }).result).toEqual([null, [publicV4]]);
  });

  it("calls an empty answer ENOTFOUND", () => {
    const [error] = run({ answer: [] }).result as [NodeJS.ErrnoException];
    expect([error.code, error.message]).toEqual(["ENOTFOUND", "no address for client.example.test"]);
  });

  it("hands a public answer to the socket: the first address, or all of them", () => {
    expect(run({ answer: [publicV4, publicV6] }).result).toEqual([null, publicV4.address, 4]);
    expect(run({ answer: [publicV6, publicV4] }, { all: true }).result).toEqual([null, [publicV6, publicV4]]);
  });

  it("refuses the name when any address is not public, naming it, unless private networks are allowed", () => {
    const mixed = [publicV4, { address: "127.0.0.1", family: 4 }];
    const [error] = run({ answer: mixed }).result as [Error];
    expect(error.message).toBe("its host client.example.test resolves to 127.0.0.1, a loopback address");
    expect(run({ answer: mixed }, {}, true).result).toEqual([null, publicV4.address, 4]);
  });
});
