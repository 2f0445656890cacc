/**
 * Discovery as one step (src/flow/discover.ts) against a metadata server on 127.0.0.1: the record it returns
 * and the events it emits on the RFC 9728 path and on the 2025-03-26 path; which listed authorization
 * server is used (the first, or the one the `authorizationServer` option wants); and that a wanted server
 * the MCP server does not name is refused with authorization_server_mismatch before any request reaches it.
 */
import { describe, expect, it } from "vitest";
import { createBackChannelFetch } from "../src/shared/back-channel.js";
import { discover } from "../src/flow/discover.js";
import type { MetadataContext } from "../src/flow/fetch-metadata.js";
import { OAuthError, type OAuthEvent } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { asMetadata, startMetadataServer, type Route } from "./support/metadata-server.js";

const closeLater = cleanupAfterEach();

function context(): MetadataContext & { events: OAuthEvent[] } {
  const events: OAuthEvent[] = [];
  return { events, fetch: createBackChannelFetch(fetch, { timeoutMs: 2_000, maxResponseBytes: 65_536 }), onEvent: (event) => void events.push(event) };
}

async function metadataServer(routes: Record<string, Route | ((origin: string) => Route)> = {}) {
  const server = await startMetadataServer(routes);
  closeLater(server.close);
  return server;
}

/** Events other than the per-request `discovery_request`. */
function milestones(events: readonly OAuthEvent[]): OAuthEvent[] {
  return events.filter((event) => event.type !== "discovery_request");
}

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(error)}`, { cause: error });
  return error;
}

/** Resource metadata for `<origin>/mcp` listing the issuers `<origin>/<name>`, each of which serves its own metadata. */
async function resourceWithServers(names: string[], prmExtra: Record<string, unknown> = {}) {
  const routes: Record<string, Route | ((origin: string) => Route)> = {
    "/.well-known/oauth-protected-resource/mcp": (origin) => ({
      body: { resource: `${origin}/mcp`, authorization_servers: names.map((name) => `${origin}/${name}`), ...prmExtra },
    }),
  };
  for (const name of names) routes[`/.well-known/oauth-authorization-server/${name}`] = (origin) => ({ body: asMetadata(`${origin}/${name}`) });
  return metadataServer(routes);
}

describe("with protected resource metadata", () => {
  it("returns the resource, its metadata URL, the scopes it supports and the first listed server's metadata; events in order", async () => {
    const server = await resourceWithServers(["as1", "as2"], { scopes_supported: ["read", "write"] });
    const ctx = context();
    const record = await discover(new URL(`${server.origin}/mcp`), undefined, ctx, 1234);
    expect(record).toStrictEqual({
      resource: `${server.origin}/mcp`,
      resourceMetadataUrl: `${server.origin}/.well-known/oauth-protected-resource/mcp`,
      scopesSupported: ["read", "write"],
      authorizationServer: asMetadata(`${server.origin}/as1`),
      legacy: false,
      discoveredAt: 1234,
    });
    expect(milestones(ctx.events)).toEqual([
      {
        type: "resource_metadata_found",
        url: `${server.origin}/.well-known/oauth-protected-resource/mcp`,
        resource: `${server.origin}/mcp`,
        authorizationServers: [`${server.origin}/as1`, `${server.origin}/as2`],
      },
      { type: "authorization_server_found", issuer: `${server.origin}/as1`, metadataUrl: `${server.origin}/.well-known/oauth-authorization-server/as1` },
    ]);
    expect(server.requested).not.toContain("/.well-known/oauth-authorization-server/as2");
  });

  it("a record without scopes_supported has no scopesSupported key", async () => {
    const server = await resourceWithServers(["as1"]);
    const record = await discover(new URL(`${server.origin}/mcp`), undefined, context(), 0);
    expect(Object.keys(record)).not.toContain("scopesSupported");
  });

  it("the wanted server, when listed, is used instead of the first", async () => {
    const server = await resourceWithServers(["as1", "as2"]);
    const record = await discover(new URL(`${server.origin}/mcp`), undefined, context(), 0, `${server.origin}/as2`);
    expect(record.authorizationServer.issuer).toBe(`${server.origin}/as2`);
    expect(server.requested.filter((path) => path.includes("authorization-server"))).toEqual(["/.well-known/oauth-authorization-server/as2"]);
  });

  it("a wanted server the MCP server does not list: authorization_server_mismatch, and no listed server is asked anything", async () => {
    const one = await resourceWithServers(["as1"]);
    const error = await failure(discover(new URL(`${one.origin}/mcp`), undefined, context(), 0, "https://mine.example.com"));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(error.message).toBe(
      `the MCP server names ${one.origin}/as1 as its authorization server, not https://mine.example.com (the \`authorizationServer\` option); nothing was sent to it`,
    );
    expect(one.requested).toEqual(["/.well-known/oauth-protected-resource/mcp"]);

    const two = await resourceWithServers(["as1", "as2"]);
    const plural = await failure(discover(new URL(`${two.origin}/mcp`), undefined, context(), 0, "https://mine.example.com"));
    expect(plural.message).toBe(
      `the MCP server names ${two.origin}/as1, ${two.origin}/as2 as its authorization servers, not https://mine.example.com (the \`authorizationServer\` option); nothing was sent to them`,
    );
    expect(two.requested).toEqual(["/.well-known/oauth-protected-resource/mcp"]);
  });
});

describe("without protected resource metadata (2025-03-26)", () => {
  it("uses the origin's metadata; the record is legacy, keyed by the MCP URL; events say so", async () => {
    const server = await metadataServer({ "/.well-known/oauth-authorization-server": (origin) => ({ body: asMetadata(origin) }) });
    const ctx = context();
    const record = await discover(new URL(`${server.origin}/api/mcp/`), undefined, ctx, 99);
    expect(record).toStrictEqual({ resource: `${server.origin}/api/mcp`, authorizationServer: asMetadata(server.origin), legacy: true, discoveredAt: 99 });
    expect(milestones(ctx.events)).toEqual([
      { type: "resource_metadata_absent" },
      { type: "authorization_server_found", issuer: server.origin, metadataUrl: `${server.origin}/.well-known/oauth-authorization-server` },
    ]);
  });

  it("default endpoints: authorization_server_found without a metadata URL", async () => {
    const server = await metadataServer();
    const ctx = context();
    const record = await discover(new URL(`${server.origin}/mcp`), undefined, ctx, 0);
    expect(record.legacy).toBe(true);
    expect(milestones(ctx.events)).toEqual([{ type: "resource_metadata_absent" }, { type: "authorization_server_found", issuer: server.origin, metadataUrl: undefined }]);
  });

  it("a wanted server is accepted when it is the origin's issuer, refused (authorization_server_mismatch) when it is another", async () => {
    const server = await metadataServer({ "/.well-known/oauth-authorization-server": (origin) => ({ body: asMetadata(origin) }) });
    const record = await discover(new URL(`${server.origin}/mcp`), undefined, context(), 0, server.origin);
    expect(record.authorizationServer.issuer).toBe(server.origin);
    const ctx = context();
    const error = await failure(discover(new URL(`${server.origin}/mcp`), undefined, ctx, 0, "https://mine.example.com"));
    expect(error.code).toBe("authorization_server_mismatch");
    expect(error.message).toContain(`names ${server.origin} as its authorization server, not https://mine.example.com`);
    expect(milestones(ctx.events)).toEqual([{ type: "resource_metadata_absent" }]);
  });
});
