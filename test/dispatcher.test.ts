import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, fetch as undiciFetch, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { harness, type Harness } from "./support/harness.js";

let h: Harness | undefined;
let agent: Agent | undefined;
let other: Server | undefined;
afterEach(async () => {
  await agent?.close();
  await h?.server.close();
  other?.closeAllConnections();
  await new Promise((resolve) => (other ? other.close(resolve) : resolve(undefined)));
  h = undefined;
  agent = undefined;
  other = undefined;
});

const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });

describe("oauth.interceptor() on an undici Agent", () => {
  it("authorizes undici.request: the 401 is held back, recovered from and the request sent again", async () => {
    h = await harness();
    agent = new Agent();
    const dispatcher = agent.compose(h.oauth.interceptor());
    const response = await request(h.server.mcpUrl, { dispatcher, method: "POST", headers, body });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toContain('"tools"');
    const mcp = h.server.requests.filter((r) => r.path === "/mcp");
    expect(mcp.map((r) => r.authorization?.startsWith("Bearer ") ?? false)).toEqual([false, true]);
    expect(h.browser.opened).toHaveLength(1);

    // Later requests carry the cached token from the start.
    const again = await request(h.server.mcpUrl, { dispatcher, method: "POST", headers, body });
    expect(again.statusCode).toBe(200);
    await again.body.text();
    expect(h.server.requests.filter((r) => r.path === "/mcp")).toHaveLength(3);
  });

  it("authorizes undici.fetch, whose streamed body cannot be replayed, before the first send", async () => {
    h = await harness();
    agent = new Agent();
    const response = await undiciFetch(h.server.mcpUrl, { dispatcher: agent.compose(h.oauth.interceptor()), method: "POST", headers, body });
    expect(response.status).toBe(200);
    await response.text();
    const mcp = h.server.requests.filter((r) => r.path === "/mcp");
    expect(mcp.every((r) => r.authorization?.startsWith("Bearer "))).toBe(true);
  });

  it("leaves other origins alone", async () => {
    h = await harness();
    const seen: (string | undefined)[] = [];
    other = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end("ok");
    });
    await new Promise<void>((resolve) => other!.listen(0, "127.0.0.1", resolve));
    agent = new Agent();
    const dispatcher = agent.compose(h.oauth.interceptor());
    await (await request(h.server.mcpUrl, { dispatcher, method: "POST", headers, body })).body.text();
    await (await request(`http://127.0.0.1:${(other.address() as AddressInfo).port}/mcp`, { dispatcher })).body.text();
    expect(seen).toEqual([undefined]);
  });
});
