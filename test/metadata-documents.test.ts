/**
 * How one well-known metadata GET is read (src/flow/fetch-metadata.ts), against a real server on 127.0.0.1:
 * the event and the request it sends, which statuses mean "not here, try the next location" (4xx only) and
 * which stop discovery (everything else that is not 200, with the status and whether it is transient),
 * which bodies count as a metadata document (a JSON object only), and the well-known URL it builds.
 */
import type { IncomingHttpHeaders } from "node:http";
import { describe, expect, it } from "vitest";
import { createBackChannelFetch } from "../src/shared/back-channel.js";
import { fetchMetadata, wellKnownUrl, type MetadataContext } from "../src/flow/fetch-metadata.js";
import { isOAuthError, OAuthError, type OAuthEvent } from "../src/index.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

/** A server answering every request with `status` and `body` (as given, JSON content type), recording each request's headers. */
async function answering(status: number, body: string) {
  const seen: { method: string | undefined; path: string | undefined; headers: IncomingHttpHeaders }[] = [];
  const server = await listenLocal((request, response) => {
    seen.push({ method: request.method, path: request.url, headers: request.headers });
    response.writeHead(status, { "content-type": "application/json" }).end(body);
  });
  closeLater(server.close);
  return { ...server, seen };
}

function context(): MetadataContext & { events: OAuthEvent[] } {
  const events: OAuthEvent[] = [];
  return { events, fetch: createBackChannelFetch(fetch, { timeoutMs: 2_000, maxResponseBytes: 65_536 }), onEvent: (event) => void events.push(event) };
}

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`, { cause: error });
  return error;
}

describe("the request", () => {
  it("announces the URL, then GETs it asking for JSON", async () => {
    const server = await answering(200, '{"issuer":"x"}');
    const ctx = context();
    const url = new URL(`${server.origin}/.well-known/oauth-authorization-server/tenant`);
    await fetchMetadata(url, ctx);
    expect(ctx.events).toEqual([{ type: "discovery_request", url: url.href }]);
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]).toMatchObject({ method: "GET", path: "/.well-known/oauth-authorization-server/tenant" });
    expect(server.seen[0]?.headers.accept).toBe("application/json");
  });

  it("a fetch that fails becomes discovery_failed naming the URL, the event sent first", async () => {
    const events: OAuthEvent[] = [];
    const ctx: MetadataContext = {
      fetch: () => Promise.reject(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) })),
      onEvent: (event) => void events.push(event),
    };
    const error = await failure(fetchMetadata(new URL("https://as.test/.well-known/openid-configuration"), ctx));
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toContain("https://as.test/.well-known/openid-configuration");
    expect(events).toEqual([{ type: "discovery_request", url: "https://as.test/.well-known/openid-configuration" }]);
  });
});

describe("statuses", () => {
  it.each([400, 401, 403, 404, 410, 499])("%i: not found here (try the next location), with the status", async (status) => {
    const server = await answering(status, "{}");
    await expect(fetchMetadata(new URL(`${server.origin}/m`), context())).resolves.toEqual({ found: false, status });
  });

  it.each([
    [201, false],
    [204, false],
    [301, false],
    [304, false],
    [399, false],
    [500, true],
    [502, true],
    [599, true],
  ])("%i: stops discovery with discovery_failed, that status, transient %s", async (status, transient) => {
    const server = await answering(status, status === 204 || status === 304 ? "" : '{"issuer":"x"}');
    const error = await failure(fetchMetadata(new URL(`${server.origin}/m`), context()));
    expect(error.code).toBe("discovery_failed");
    expect(error.status).toBe(status);
    expect(error.transient).toBe(transient);
    expect(error.message).toBe(`fetching ${server.origin}/m: unexpected HTTP ${status}`);
  });
});

describe("bodies", () => {
  it("a 200 JSON object is found; the response handed back can still be read (for oauth4webapi)", async () => {
    const server = await answering(200, '{"issuer":"https://as.test","n":1}');
    const result = await fetchMetadata(new URL(`${server.origin}/m`), context());
    if (!result.found) throw new Error("expected a document");
    expect(result.json).toEqual({ issuer: "https://as.test", n: 1 });
    expect(result.response.bodyUsed).toBe(false);
    await expect(result.response.json()).resolves.toEqual({ issuer: "https://as.test", n: 1 });
  });

  it("a body that is not JSON: discovery_failed with the parse error as cause", async () => {
    const server = await answering(200, "<html>hello</html>");
    const error = await failure(fetchMetadata(new URL(`${server.origin}/m`), context()));
    expect(error.code).toBe("discovery_failed");
    expect(error.message).toBe(`fetching ${server.origin}/m: the body is not JSON`);
    // The Response's own realm throws it, so it is checked by name rather than instanceof.
    expect(error.cause).toMatchObject({ name: "SyntaxError" });
  });

  it.each(["null", "[]", '[{"issuer":"x"}]', '"a string"', "42", "true"])("%s: discovery_failed, not a JSON object", async (body) => {
    const server = await answering(200, body);
    const error = await failure(fetchMetadata(new URL(`${server.origin}/m`), context()));
    expect(isOAuthError(error, "discovery_failed")).toBe(true);
    expect(error.message).toBe(`fetching ${server.origin}/m: the body is not a JSON object`);
  });
});

describe("wellKnownUrl (path insertion, RFC 8414 §3.1 / RFC 9728 §3.1)", () => {
  it.each([
    ["https://as.test", "https://as.test/.well-known/oauth-authorization-server"],
    ["https://as.test/", "https://as.test/.well-known/oauth-authorization-server"],
    ["https://as.test/tenant", "https://as.test/.well-known/oauth-authorization-server/tenant"],
    ["https://as.test/a/b/", "https://as.test/.well-known/oauth-authorization-server/a/b"],
    ["https://as.test/a/b///", "https://as.test/.well-known/oauth-authorization-server/a/b"],
    ["https://as.test:8443/t?q=1#f", "https://as.test:8443/.well-known/oauth-authorization-server/t"],
  ])("%s -> %s", (base, expected) => {
    expect(wellKnownUrl(new URL(base), "oauth-authorization-server").href).toBe(expected);
  });
});
