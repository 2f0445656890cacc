import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { harness, rpc, type Harness } from "./support/harness.js";

let h: Harness | undefined;
let other: Server | undefined;
afterEach(async () => {
  await h?.server.close();
  other?.closeAllConnections();
  await new Promise((resolve) => (other ? other.close(resolve) : resolve(undefined)));
  h = undefined;
  other = undefined;
});

/** Another origin that records the Authorization header it receives, and can redirect. */
async function recorder(): Promise<{ origin: string; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  other = createServer((request, response) => {
    seen.push(request.headers.authorization);
    response.writeHead(200).end("ok");
  });
  await new Promise<void>((resolve) => other!.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(other.address() as AddressInfo).port}`, seen };
}

describe("where the bearer token goes", () => {
  it("never to another origin, nor outside the resource's path, nor to the authorization server", async () => {
    h = await harness();
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    const elsewhere = await recorder();
    await h.oauth.fetch(`${elsewhere.origin}/mcp`, rpc());
    await h.oauth.fetch(`${h.server.origin}/not-mcp`);
    await h.oauth.fetch(`${h.server.origin}/mcpx`);
    expect(elsewhere.seen).toEqual([undefined]);
    const leaked = h.server.requests.filter((r) => r.authorization && r.path !== "/mcp");
    expect(leaked).toEqual([]);
  });

  it("not to the authorization server's endpoints or metadata when the resource spans the whole origin", async () => {
    h = await harness({ resourceIsOrigin: true });
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    await h.oauth.fetch(`${h.server.origin}/token`, { method: "POST" });
    await h.oauth.fetch(`${h.server.origin}/.well-known/oauth-authorization-server`);
    await h.oauth.fetch(`${h.server.origin}/register`, { method: "POST" });
    const leaked = h.server.requests.filter((r) => r.authorization && r.path !== "/mcp");
    expect(leaked).toEqual([]);
  });
});
