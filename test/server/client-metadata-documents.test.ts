/**
 * Client ID Metadata Documents on the server (S10, S11, S12). The documents are served by a real HTTPS
 * server on 127.0.0.1 with a certificate made for this run; the provider trusts that certificate as its
 * only CA and reaches `*.example.test` through an injected resolver. Only the tests that serve a document
 * set `allowPrivateNetworks` (the document server is on loopback); the address rules are tested without
 * it, with `loopbackOnlyConnections` making sure no test traffic leaves 127.0.0.1.
 */
import Keyv from "keyv";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Client } from "../../src/client.js";
import { OAuth } from "../../src/index.js";
import type { ClientMetadataDocumentOptions } from "../../src/server/index.js";
import { loopbackOnlyConnections } from "../support/loopback-only.js";
import { captureLogger, followRedirects } from "../support/openers.js";
import { testCertificate } from "../support/test-certificate.js";
import { loadConsentPage, REDIRECT_URI, serverUnderTest, type ServerUnderTest } from "./support.js";
import { documentFor, resolveTo, startDocumentServer, type DocumentHandler, type DocumentServer } from "./cimd-support.js";

let certificate: { key: string; cert: string };
beforeAll(() => {
  certificate = testCertificate(["client.example.test", "other.example.test"]);
});

afterEach(() => {
  vi.restoreAllMocks();
});

type Handler = DocumentHandler;

const documentServer = (handler: Handler): Promise<DocumentServer> => startDocumentServer(certificate, handler);

/** Serves the right document for every path, with `headers` (Cache-Control, say). */
function servingDocuments(headers: Record<string, string> = {}): (port: () => number) => Handler {
  return (port) => (request, response) => {
    const url = `https://${request.headers.host?.split(":")[0] ?? ""}:${port()}${request.url ?? "/"}`;
    response.writeHead(200, { "content-type": "application/json", ...headers }).end(JSON.stringify(documentFor(url)));
  };
}

async function documentsServer(headers: Record<string, string> = {}) {
  let port = 0;
  const served = await documentServer(servingDocuments(headers)(() => port));
  port = served.port;
  return served;
}

/** A provider whose documents come from the loopback HTTPS server (trusted CA, `*.example.test` → 127.0.0.1). */
function withDocuments(options: Partial<ClientMetadataDocumentOptions> = {}, provider: Parameters<typeof serverUnderTest>[0] = {}): Promise<ServerUnderTest> {
  return serverUnderTest({
    clientMetadataDocuments: { enabled: true, allowPrivateNetworks: true, ca: certificate.cert, lookup: resolveTo(), ...options },
    ...provider,
  });
}

/** /authorize for `clientId` as a browser would send it; the error page's code and text when it fails. */
async function authorizeAs(t: ServerUnderTest, clientId: string, redirectUri = REDIRECT_URI): Promise<{ status: number; location: string | null; text: string }> {
  const response = await t.authorize({ response_type: "code", client_id: clientId, redirect_uri: redirectUri, code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", state: "s" });
  // The error page escapes what it shows; the assertions read it as the user does.
  const text = (await response.text()).replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return { status: response.status, location: response.headers.get("location"), text };
}

describe("a client identified by its metadata document", () => {
  it("logs in, redeems its code and refreshes, with the document fetched once; the metadata advertises support", async () => {
    const documents = await documentsServer();
    const t = await withDocuments();
    const clientId = documents.url("/oauth/client.json");
    const metadata = (await (await fetch(t.url("/.well-known/oauth-authorization-server"))).json()) as Record<string, unknown>;
    expect(metadata.client_id_metadata_document_supported).toBe(true);

    const client = { client_id: clientId, redirect_uris: [REDIRECT_URI] };
    const login = await t.login(client);
    const redeemed = await t.redeem(client, login);
    expect(redeemed.status).toBe(200);
    const body = (await redeemed.json()) as { access_token: string; refresh_token: string };
    expect((await t.mcp(body.access_token)).status).toBe(200);
    expect((await t.refresh(client, body.refresh_token)).status).toBe(200);
    expect(documents.hits.get("/oauth/client.json")).toBe(1);
    expect(t.server.count("/register")).toBe(0);
  });

  it("is refused when the feature is off (the default): no fetch, and no advertisement", async () => {
    const documents = await documentsServer();
    const t = await serverUnderTest();
    const metadata = (await (await fetch(t.url("/.well-known/oauth-authorization-server"))).json()) as Record<string, unknown>;
    expect(metadata).not.toHaveProperty("client_id_metadata_document_supported");
    const answer = await authorizeAs(t, documents.url("/oauth/client.json"));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("no client is registered");
    expect(documents.hits.size).toBe(0);
  });

  it("our own OAuth client with clientMetadataUrl logs in through the document, registering nothing", async () => {
    const documents = await documentsServer();
    const t = await withDocuments();
    const clientMetadataUrl = documents.url("/mcp-oauth/client.json");
    const browser = followRedirects();
    const oauth = new OAuth({ mcpUrl: t.server.mcpUrl, clientMetadataUrl, tokenStorage: new Keyv(), openBrowser: browser.open, logger: captureLogger() });
    const client = new Client(t.server.mcpUrl, { auth: oauth });
    await client.connect();
    expect(await client.callTool("add", { a: 2, b: 40 })).toMatchObject({ content: [{ type: "text", text: "42" }] });
    await client.close();
    expect(new URL(browser.opened[0] ?? "").searchParams.get("client_id")).toBe(clientMetadataUrl);
    expect(t.server.count("/register")).toBe(0);
    expect(t.server.requests.find((r) => r.path === "/token")?.form.client_id).toBe(clientMetadataUrl);
    expect(documents.hits.get("/mcp-oauth/client.json")).toBe(1);
  });
});

describe("client id URLs that name no document (S10): refused before any fetch", () => {
  it.each([
    ["/", "must have a path"],
    ["", "must have a path"],
    ["/a/../client.json", "canonical form"],
    ["/a/./client.json", "canonical form"],
    ["/a\\client.json", "canonical form"],
    ["/client.json#frag", "fragment"],
    ["/client\t.json", "canonical form"],
  ])("path %j", async (path, why) => {
    const documents = await documentsServer();
    const t = await withDocuments();
    const answer = await authorizeAs(t, documents.url("") + path);
    expect(answer.status).toBe(400);
    expect(answer.location).toBeNull();
    expect(answer.text).toContain("invalid_client");
    expect(answer.text).toContain(why);
    expect(documents.hits.size).toBe(0);
  });

  it.each([
    ["https://user:pw@client.example.test/c.json", "credentials"],
    ["https://CLIENT.example.test/c.json", "canonical form"],
    ["https://client.example.test:443/c.json", "canonical form"],
  ])("%s", async (clientId, why) => {
    const attempts = loopbackOnlyConnections();
    const t = await withDocuments();
    const answer = await authorizeAs(t, clientId);
    expect(answer.text).toContain(why);
    expect(attempts.filter((host) => host.endsWith("example.test"))).toEqual([]);
  });
});

describe("document hosts on private networks (S10): refused before any connection", () => {
  it.each([
    ["https://127.0.0.1/c.json", resolveTo(), "loopback"],
    ["https://[::1]/c.json", resolveTo(), "loopback"],
    ["https://localhost/c.json", resolveTo(), "loopback"],
    ["https://10.1.2.3/c.json", resolveTo(), "private"],
    ["https://169.254.169.254/latest/meta-data", resolveTo(), "link-local"],
    ["https://[::ffff:a9fe:a9fe]/c.json", resolveTo(), "link-local"],
    ["https://metadata.example.test/c.json", resolveTo("169.254.169.254"), "169.254.169.254, a link-local address"],
    ["https://intranet.example.test/c.json", resolveTo("192.168.1.20"), "192.168.1.20, a private address"],
    // One loopback address among public ones refuses the name: happy eyeballs must not get to pick.
    ["https://mixed.example.test/c.json", resolveTo("93.184.216.34", "127.0.0.1"), "127.0.0.1, a loopback address"],
  ])("%s", async (clientId, lookup, why) => {
    const attempts = loopbackOnlyConnections();
    const t = await withDocuments({ allowPrivateNetworks: false, lookup });
    const answer = await authorizeAs(t, clientId);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("invalid_client");
    expect(answer.text).toContain(why);
    expect(answer.text).not.toContain("test safety");
    // An IP literal is refused before a socket exists; a name by the connection's own lookup. Had either
    // let the address through, the safety net would have refused it instead ("test safety", a 503 page).
    expect(attempts.filter((host) => host !== "127.0.0.1" && !host.endsWith(".example.test"))).toEqual([]);
  });
});

describe("hostile or broken document servers", () => {
  const cases: [string, Handler, RegExp, number][] = [
    ["a redirect, even to a good document", (_q, s) => void s.writeHead(302, { location: "/good.json" }).end(), /answered 302: redirects are not followed/, 400],
    ["a 404", (_q, s) => void s.writeHead(404).end(), /answered 404/, 400],
    ["a 500 (transient: 503, try again)", (_q, s) => void s.writeHead(500).end(), /could not be fetched: it answered 500/, 503],
    ["HTML", (_q, s) => void s.writeHead(200, { "content-type": "text/html" }).end("<html>"), /content type is "text\/html"/, 400],
    ["a declared size over the cap", (_q, s) => void s.writeHead(200, { "content-type": "application/json", "content-length": "6000" }).end("x".repeat(6000)), /larger than 5120 bytes/, 400],
    [
      "an endless body without a declared size",
      (_q, s) => {
        s.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(1024, 32);
        let sent = 0;
        const pump = () => {
          while (sent < 1024 && s.write(chunk)) sent += 1;
          if (sent < 1024) s.once("drain", pump);
          else s.end();
        };
        pump();
      },
      /larger than 5120 bytes/,
      400,
    ],
    ["invalid JSON", (_q, s) => void s.writeHead(200, { "content-type": "application/json" }).end("{"), /not valid JSON/, 400],
    ["a JSON array", (_q, s) => void s.writeHead(200, { "content-type": "application/json" }).end("[]"), /not a JSON object/, 400],
  ];
  it.each(cases)("%s", async (_name, handler, why, status) => {
    const documents = await documentServer(handler);
    const t = await withDocuments();
    const answer = await authorizeAs(t, documents.url("/c.json"));
    expect(answer.status).toBe(status);
    expect(answer.text).toMatch(why);
    expect(documents.hits.get("/c.json")).toBe(1);
    expect(documents.hits.has("/good.json")).toBe(false);
  });

  it("a server that never answers is given up on at timeoutMs (503)", async () => {
    const documents = await documentServer(() => undefined);
    const t = await withDocuments({ timeoutMs: 300 });
    const started = Date.now();
    const answer = await authorizeAs(t, documents.url("/c.json"));
    expect(answer.status).toBe(503);
    expect(answer.text).toContain("did not answer within 300 ms");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("a certificate the provider does not trust is refused: the test CA is trusted only where it is passed", async () => {
    const documents = await documentsServer();
    const t = await serverUnderTest({ clientMetadataDocuments: { enabled: true, allowPrivateNetworks: true, lookup: resolveTo() } });
    const answer = await authorizeAs(t, documents.url("/c.json"));
    expect(answer.status).toBe(503);
    expect(answer.text).toContain("could not be reached");
  });

  const invalid: [string, (url: string) => Record<string, unknown>, string][] = [
    ["another client_id", (url) => documentFor(url.replace("client.example", "other.example")), "its client_id is not the URL it was fetched from"],
    ["no client_id", (url) => documentFor(url, { client_id: undefined }), "its client_id is not the URL"],
    ["a client_secret", (url) => documentFor(url, { client_secret: "s3cret" }), "it contains client_secret"],
    ["client_secret_expires_at", (url) => documentFor(url, { client_secret_expires_at: 0 }), "it contains client_secret_expires_at"],
    ["a shared-secret method", (url) => documentFor(url, { token_endpoint_auth_method: "client_secret_basic" }), '"client_secret_basic" is not supported'],
    ["an http redirect URI off loopback", (url) => documentFor(url, { redirect_uris: ["http://evil.example/cb"] }), "not loopback"],
    ["a javascript: redirect URI", (url) => documentFor(url, { redirect_uris: ["javascript:alert(1)"] }), "forbidden scheme"],
    ["no redirect URIs", (url) => documentFor(url, { redirect_uris: [] }), "redirect URI is required"],
    ["the implicit grant", (url) => documentFor(url, { grant_types: ["implicit"] }), "not supported"],
  ];
  it.each(invalid)("a document with %s is refused", async (_name, make, why) => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(make(`https://client.example.test:${port}${request.url ?? ""}`)));
    });
    port = documents.port;
    const t = await withDocuments();
    const answer = await authorizeAs(t, documents.url("/c.json"));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("invalid_client");
    expect(answer.text).toContain(why);
    expect(answer.text).not.toContain("s3cret");
  });

  it("a document scope this server does not know narrows the client's default scope instead of refusing it", async () => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(`https://client.example.test:${port}${request.url ?? ""}`, { scope: "mcp:tools calendar.read" })));
    });
    port = documents.port;
    const t = await withDocuments();
    const client = { client_id: documents.url("/c.json"), redirect_uris: [REDIRECT_URI] };
    const body = (await (await t.redeem(client, await t.login(client, { scope: undefined }))).json()) as { scope?: string };
    expect(body.scope).toBe("mcp:tools");
  });
});

describe("policy hooks", () => {
  it("allowFetch refuses a host before any fetch; allowClient refuses a validated client", async () => {
    const documents = await documentsServer();
    const seen: string[] = [];
    const t = await withDocuments({
      allowFetch: (url) => url.hostname === "client.example.test",
      allowClient: (client) => {
        seen.push(client.client_id);
        return !client.client_id.endsWith("/blocked.json");
      },
    });
    expect((await authorizeAs(t, documents.url("/c.json", "other.example.test"))).text).toContain("does not accept documents from that host");
    expect(documents.hits.size).toBe(0);
    expect((await authorizeAs(t, documents.url("/blocked.json"))).text).toContain("refused by this server's policy");
    expect(seen).toEqual([documents.url("/blocked.json")]);
    expect((await authorizeAs(t, documents.url("/c.json"))).status).toBe(302);
  });
});

describe("the document cache (S11)", () => {
  it("honours max-age within its bounds", async () => {
    const documents = await documentsServer({ "cache-control": "max-age=120" });
    const t = await withDocuments();
    const id = documents.url("/c.json");
    const fetches = () => documents.hits.get("/c.json") ?? 0;
    expect((await authorizeAs(t, id)).status).toBe(302);
    t.clock.now += 119_000;
    await authorizeAs(t, id);
    expect(fetches()).toBe(1);
    t.clock.now += 2_000;
    await authorizeAs(t, id);
    expect(fetches()).toBe(2);
  });

  it.each([
    ["no-store", "no-store, max-age=600", 60_000],
    ["no Cache-Control", undefined, 60_000],
    ["a max-age past the maximum", "max-age=999999999", 86_400_000],
  ])("%s: kept for the bound", async (_name, header, keptMs) => {
    const documents = await documentsServer(header ? { "cache-control": header } : {});
    const t = await withDocuments();
    const id = documents.url("/c.json");
    await authorizeAs(t, id);
    t.clock.now += keptMs - 1000;
    await authorizeAs(t, id);
    expect(documents.hits.get("/c.json")).toBe(1);
    t.clock.now += 2000;
    await authorizeAs(t, id);
    expect(documents.hits.get("/c.json")).toBe(2);
  });

  it("keeps at most cacheEntries documents, dropping the least recently used", async () => {
    const documents = await documentsServer({ "cache-control": "max-age=3600" });
    const t = await withDocuments({ cacheEntries: 2 });
    const [a, b, c] = ["/a.json", "/b.json", "/c.json"].map((path) => documents.url(path)) as [string, string, string];
    await authorizeAs(t, a);
    await authorizeAs(t, b);
    await authorizeAs(t, a); // a is now the most recently used
    await authorizeAs(t, c); // evicts b
    await authorizeAs(t, a);
    expect(documents.hits.get("/a.json")).toBe(1);
    await authorizeAs(t, b);
    expect(documents.hits.get("/b.json")).toBe(2);
  });

  it("concurrent requests for one document share one fetch", async () => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      setTimeout(() => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(`https://client.example.test:${port}${request.url ?? ""}`))), 200);
    });
    port = documents.port;
    const t = await withDocuments();
    const answers = await Promise.all(Array.from({ length: 10 }, () => authorizeAs(t, documents.url("/c.json"))));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(302));
    expect(documents.hits.get("/c.json")).toBe(1);
  });

  it("a failed fetch is not cached: the next request tries again", async () => {
    let fail = true;
    let port = 0;
    const documents = await documentServer((request, response) => {
      if (fail) return void response.writeHead(503).end();
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(`https://client.example.test:${port}${request.url ?? ""}`)));
    });
    port = documents.port;
    const t = await withDocuments();
    expect((await authorizeAs(t, documents.url("/c.json"))).status).toBe(503);
    fail = false;
    expect((await authorizeAs(t, documents.url("/c.json"))).status).toBe(302);
  });
});

describe("the consent page for a document client (S12)", () => {
  async function consentFor(t: ServerUnderTest, clientId: string, redirectUri: string): Promise<string> {
    const answer = await authorizeAs(t, clientId, redirectUri);
    expect(answer.status).toBe(302);
    return (await loadConsentPage(answer.location ?? "")).html;
  }

  it("names the document's host, and warns when the answer goes to a loopback redirect URI", async () => {
    let port = 0;
    const documents = await documentServer((request, response) => {
      const url = `https://client.example.test:${port}${request.url ?? ""}`;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(documentFor(url, { redirect_uris: [REDIRECT_URI, "https://client.example.test/cb"] })));
    });
    port = documents.port;
    const t = await withDocuments({}, { autoApprove: false });
    const host = `client.example.test:${port}`;

    const local = await consentFor(t, documents.url("/c.json"), REDIRECT_URI);
    expect(local).toContain(`<strong id="client-id-host">${host}</strong>`);
    expect(local).toContain(`<h1>Authorize Example CIMD client from ${host}?</h1>`);
    expect(local).toMatch(new RegExp(`id="impersonation-warning"[^]*not to ${host.replace(/\./g, "\\.")}`));

    const remote = await consentFor(t, documents.url("/c.json"), "https://client.example.test/cb");
    expect(remote).toContain(`<strong id="client-id-host">${host}</strong>`);
    expect(remote).not.toContain("impersonation-warning");
  });

  it("a registered client's page has neither", async () => {
    const t = await withDocuments({}, { autoApprove: false });
    const client = await t.register();
    const html = await consentFor(t, client.client_id, REDIRECT_URI);
    expect(html).not.toContain("client-id-host");
    expect(html).not.toContain("impersonation-warning");
  });
});
