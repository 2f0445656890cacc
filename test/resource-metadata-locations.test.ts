/**
 * RFC 9728 discovery asks each location once: when the challenge's `resource_metadata` URL is the
 * path-aware well-known URL, or the MCP URL sits at the origin's root (so the path-aware URL is the root
 * one), a location that answered 404 is not asked again. And a resource_mismatch names the resource and
 * the MCP URL it fails to cover, without the MCP URL's query (which may carry a secret). Loopback
 * metadata server only.
 */
import { describe, expect, it } from "vitest";
import { createBackChannelFetch } from "../src/shared/back-channel.js";
import { assertResourceCovers, discoverResource } from "../src/flow/discover-resource.js";
import { isOAuthError, type OAuthEvent } from "../src/index.js";
import { cleanupAfterEach } from "./support/local-server.js";
import { startMetadataServer } from "./support/metadata-server.js";

const closeLater = cleanupAfterEach();

function ctx() {
  const events: OAuthEvent[] = [];
  return { events, fetch: createBackChannelFetch(fetch, { timeoutMs: 2_000, maxResponseBytes: 65_536 }), onEvent: (e: OAuthEvent) => void events.push(e) };
}

/** A metadata server with no documents: every location answers 404. */
async function emptyServer() {
  const server = await startMetadataServer();
  closeLater(server.close);
  return server;
}

describe("each protected resource metadata location is asked once", () => {
  it("a resource_metadata URL that is the path-aware URL is not fetched again after its 404; the root follows", async () => {
    const server = await emptyServer();
    const c = ctx();
    const found = await discoverResource(new URL(`${server.origin}/mcp`), `${server.origin}/.well-known/oauth-protected-resource/mcp`, c);
    expect(found).toBeUndefined();
    expect(server.requested).toEqual(["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]);
    expect(c.events.filter((e) => e.type === "discovery_request")).toHaveLength(2);
  });

  it("an MCP URL at the origin's root asks the root location once", async () => {
    const server = await emptyServer();
    const found = await discoverResource(new URL(`${server.origin}/`), undefined, ctx());
    expect(found).toBeUndefined();
    expect(server.requested).toEqual(["/.well-known/oauth-protected-resource"]);
  });
});

describe("a resource that does not cover the MCP URL", () => {
  it("is resource_mismatch naming the resource and the MCP URL without its query", () => {
    const error = (() => {
      try {
        assertResourceCovers("https://other.example/mcp", new URL("http://127.0.0.1:9/mcp?api_key=KEY-SECRET-81f3"));
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    if (!isOAuthError(error, "resource_mismatch")) throw new Error(`expected resource_mismatch, got ${String(error)}`);
    expect(error.message).toContain("names resource https://other.example/mcp");
    expect(error.message).toContain("does not cover http://127.0.0.1:9/mcp");
    expect(error.message).not.toContain("KEY-SECRET-81f3");
  });
});
