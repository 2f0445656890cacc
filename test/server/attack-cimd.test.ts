/**
 * Attacker's view of Client ID Metadata Documents on the server (src/server/client-metadata-documents.ts):
 * hostile document hosts on 127.0.0.1 (HTTPS with a per-run certificate, reached through an injected
 * resolver), hostile DNS answers and hostile IP literals. Tests marked `it.fails` demonstrate a hole
 * (they pass once it is fixed, and then must be turned into plain `it`); the others pin a defence that
 * had no test. `loopbackOnlyConnections` guarantees no test traffic leaves 127.0.0.1.
 */
import type { IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { constants, createGzip, gzipSync } from "node:zlib";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { InMemoryOAuthProvider, type ClientMetadataDocumentOptions } from "../../src/server/index.js";
import { loopbackOnlyConnections } from "../support/loopback-only.js";
import { testCertificate } from "../support/test-certificate.js";
import { closeLater, pkce, REDIRECT_URI } from "./support.js";
import { documentFor, resolveTo, startDocumentServer, type DocumentHandler, type DocumentServer } from "./cimd-support.js";

const baseUrl = "http://127.0.0.1:1";
const floodHosts = Array.from({ length: 12 }, (_, i) => `h${i}.flood.example.test`);

let certificate: { key: string; cert: string };
beforeAll(() => {
  certificate = testCertificate(["client.example.test", "other.example.test", ...floodHosts]);
});

afterEach(() => {
  vi.restoreAllMocks();
});

type Handler = DocumentHandler;

/** Kept-alive for ten minutes unless the library closes its side: the tests check that it does. */
const documentServer = (handler: Handler): Promise<DocumentServer> => startDocumentServer(certificate, handler, { keepAliveTimeout: 600_000 });

/** The URL the request was made for, as the document must name it. */
function requestedUrl(request: IncomingMessage, port: number): string {
  return `https://${request.headers.host?.split(":")[0] ?? ""}:${port}${request.url ?? "/"}`;
}

function provider(options: Partial<ClientMetadataDocumentOptions> = {}, extra: Record<string, unknown> = {}): InMemoryOAuthProvider {
  return new InMemoryOAuthProvider({
    baseUrl,
    autoApprove: true,
    rateLimits: false,
    onError: () => undefined,
    clientMetadataDocuments: { enabled: true, allowPrivateNetworks: true, ca: certificate.cert, lookup: resolveTo(), ...options },
    ...extra,
  });
}

async function authorizeAs(p: InMemoryOAuthProvider, clientId: string, redirectUri = REDIRECT_URI): Promise<{ status: number; location: string | null; text: string }> {
  const target = new URL(`${baseUrl}/authorize`);
  const params = { response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s" };
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  const response = await p.handle(new Request(target));
  const text = (await response.text()).replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return { status: response.status, location: response.headers.get("location"), text };
}

describe("time and size caps against a hostile document host", () => {
  it("a host that trickles one byte every 100 ms and never ends is cut off at timeoutMs in total (503)", async () => {
    const timers: NodeJS.Timeout[] = [];
    closeLater(async () => timers.forEach(clearInterval));
    const documents = await documentServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write("{");
      timers.push(setInterval(() => response.write(" "), 100));
    });
    const p = provider({ timeoutMs: 700 });
    const started = Date.now();
    const answer = await authorizeAs(p, documents.url("/c.json"));
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.text).toContain("did not answer within 700 ms");
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(3000);
  });

  it("a resolver that never answers is cut off at timeoutMs too", async () => {
    const p = provider({ timeoutMs: 300, lookup: (() => undefined) as unknown as LookupFunction });
    const started = Date.now();
    const answer = await authorizeAs(p, "https://client.example.test/c.json");
    expect(answer.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a gzip-encoded document is decoded, and the size cap applies to the decoded bytes (a gzip bomb is refused)", async () => {
    let port = 0;
    // Four gzip members of 1 MB of spaces each: under the cap on the wire (so the Content-Length check
    // lets it through), 4 MB decoded.
    const member = gzipSync(Buffer.alloc(1024 * 1024, 0x20), { level: constants.Z_BEST_COMPRESSION });
    const bomb = Buffer.concat(Array.from({ length: 4 }, () => member));
    expect(bomb.length).toBeLessThan(5120);
    const documents = await documentServer((request, response) => {
      const path = new URL(request.url ?? "/", "https://x").pathname;
      const body = path === "/bomb.json" ? bomb : gzipSync(JSON.stringify(documentFor(requestedUrl(request, port))));
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": String(body.length) }).end(body);
    });
    port = documents.port;
    const p = provider();
    expect((await authorizeAs(p, documents.url("/good.json"))).status).toBe(302);
    const answer = await authorizeAs(p, documents.url("/bomb.json"));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("larger than 5120 bytes");
  });

  it("a streamed gzip bomb is abandoned at the cap: the connection is closed, the rest is never asked for", async () => {
    let pumped = 0;
    const documents = await documentServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      const gzip = createGzip({ level: 9 });
      gzip.on("data", (chunk: Buffer) => void (response.destroyed || response.write(chunk)));
      const spaces = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        if (response.destroyed || pumped >= 512) return void gzip.end(() => response.destroyed || response.end());
        pumped += 1;
        gzip.write(spaces, () => gzip.flush(() => setTimeout(pump, 10)));
      };
      pump();
    });
    const answer = await authorizeAs(provider({ timeoutMs: 5000 }), documents.url("/c.json"));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("larger than 5120 bytes");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // 512 MB were on offer; the provider hung up after a few.
    expect(pumped).toBeLessThan(64);
  });
});

describe("redirects: no status of the 3xx family is followed", () => {
  it.each([301, 303, 307, 308])("%d to a good document is refused, and the good document is never fetched", async (status) => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      if (request.url === "/good.json") return void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(requestedUrl(request, port))));
      response.writeHead(status, { location: `https://client.example.test:${port}/good.json` }).end();
    });
    port = documents.port;
    const answer = await authorizeAs(provider(), documents.url("/c.json"));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(`answered ${status}: redirects are not followed`);
    expect(documents.hits.has("/good.json")).toBe(false);
  });
});

describe("addresses that carry a private IPv4 address inside IPv6", () => {
  it.each([
    // RFC 6052 well-known NAT64 prefix: refused (the code knows it).
    ["https://[64:ff9b::a9fe:a9fe]/c.json", "link-local"],
    ["https://[2002:a00:1::]/c.json", "private"],
    ["https://[::ffff:7f00:1]/c.json", "loopback"],
  ])("literal %s is refused before any connection", async (clientId, why) => {
    const attempts = loopbackOnlyConnections();
    const answer = await authorizeAs(provider({ allowPrivateNetworks: false }), clientId);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(why);
    expect(attempts).toEqual([]);
  });

  // RFC 8215's local-use NAT64 prefix 64:ff9b:1::/48 (it was classed public: on a network whose NAT64
  // gateway uses it, [64:ff9b:1::a9fe:a9fe] reaches 169.254.169.254, the cloud metadata service).
  it("literal https://[64:ff9b:1::a9fe:a9fe]/c.json (RFC 8215 local-use NAT64) is refused as link-local", async () => {
    const attempts = loopbackOnlyConnections();
    const answer = await authorizeAs(provider({ allowPrivateNetworks: false }), "https://[64:ff9b:1::a9fe:a9fe]/c.json");
    expect(answer.text).not.toContain("test safety");
    expect(attempts).toEqual([]);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("link-local");
  });

  // The same prefix in a DNS answer, at the connect-time lookup.
  it("a name resolving to 64:ff9b:1::a00:1 (10.0.0.1 through a local-use NAT64) is refused", async () => {
    const attempts = loopbackOnlyConnections();
    const answer = await authorizeAs(provider({ allowPrivateNetworks: false, lookup: resolveTo("64:ff9b:1::a00:1") }), "https://client.example.test/c.json");
    expect(answer.text).not.toContain("test safety");
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("a private address");
    expect(attempts.filter((host) => host !== "client.example.test")).toEqual([]);
  });

  it("an answer mixing families (public IPv6, mapped private IPv4) refuses the name", async () => {
    const attempts = loopbackOnlyConnections();
    const answer = await authorizeAs(provider({ allowPrivateNetworks: false, lookup: resolveTo("2606:4700::1", "::ffff:192.168.0.5") }), "https://client.example.test/c.json");
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("a private address");
    expect(answer.text).not.toContain("test safety");
    expect(attempts.filter((host) => host !== "client.example.test")).toEqual([]);
  });
});

describe("what a document can put on the consent page", () => {
  it("markup in client_name is escaped; javascript: client_uri / logo_uri refuse the document", async () => {
    let port = 0;
    let extra: Record<string, unknown> = { client_name: `<img src=x onerror=alert(1)>"'</h1><form action=https://evil.example>` };
    const documents = await documentServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(requestedUrl(request, port), extra)));
    });
    port = documents.port;
    const p = provider({}, { autoApprove: false });
    const answer = await authorizeAs(p, documents.url("/c.json"));
    expect(answer.status).toBe(302);
    const page = await p.handle(new Request(answer.location ?? ""));
    const html = await page.text();
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<form action=https://evil");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");

    for (const field of ["client_uri", "logo_uri", "tos_uri", "policy_uri"]) {
      extra = { [field]: "javascript:alert(1)" };
      const refused = await authorizeAs(provider(), documents.url(`/${field}.json`));
      expect(refused.status).toBe(400);
      expect(refused.text).toContain(`${field}: must be an http(s) URI`);
    }
  });

  it("a document cannot smuggle a client_secret_hash (or any unknown field) into the client record", async () => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      const url = requestedUrl(request, port);
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(url, { client_secret_hash: "x".repeat(43), __proto__: { admin: true }, client_id_issued_at: 1 })));
    });
    port = documents.port;
    const seen: Record<string, unknown>[] = [];
    const p = provider({ allowClient: (client) => (seen.push(client as unknown as Record<string, unknown>), true) });
    expect((await authorizeAs(p, documents.url("/c.json"))).status).toBe(302);
    expect(seen[0]).not.toHaveProperty("client_secret_hash");
    expect(seen[0]?.token_endpoint_auth_method).toBe("none");
    expect(seen[0]?.client_id_issued_at).not.toBe(1);
  });
});

describe("many distinct document hosts", () => {
  // The document agent used to keep every connection alive as long as the document host asked
  // (undici honours `Keep-Alive: timeout=N` up to 600 s), so client ids on many names (wildcard DNS)
  // made the server hold one socket per name for ten minutes, and file descriptors ran out long before
  // the rate limits stopped the flood. Connections now close a second after their fetch.
  it("no connection to a document host outlives its fetch by more than a few seconds", async () => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json", "keep-alive": "timeout=600" }).end(JSON.stringify(documentFor(requestedUrl(request, port))));
    });
    port = documents.port;
    const p = provider();
    const answers = await Promise.all(floodHosts.map((host) => authorizeAs(p, documents.url("/c.json", host))));
    expect(answers.map((a) => a.status)).toEqual(floodHosts.map(() => 302));
    // Past the agent's 1 s, and short of undici's own default of 4 s, which would let the sockets live on.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(documents.sockets.size).toBe(0);
  }, 20_000);
});
