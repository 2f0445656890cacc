import { Agent, fetch as undiciFetch, request } from "undici";
import { describe, expect, it } from "vitest";
import { harness, type Harness } from "./support/harness.js";
import { authorizationRecorder, cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

/** The SDK peer and an Agent composed with the interceptor, both closed after the test. */
async function setup(): Promise<{ h: Harness; dispatcher: ReturnType<Agent["compose"]> }> {
  const h = await harness();
  const agent = new Agent();
  closeLater(h.server.close);
  closeLater(() => agent.close());
  return { h, dispatcher: agent.compose(h.oauth.interceptor()) };
}

const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });

describe("oauth.interceptor() on an undici Agent", () => {
  it("authorizes undici.request: the 401 is held back, recovered from and the request sent again", async () => {
    const { h, dispatcher } = await setup();
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
    const { h, dispatcher } = await setup();
    const response = await undiciFetch(h.server.mcpUrl, { dispatcher, method: "POST", headers, body });
    expect(response.status).toBe(200);
    await response.text();
    const mcp = h.server.requests.filter((r) => r.path === "/mcp");
    expect(mcp.every((r) => r.authorization?.startsWith("Bearer "))).toBe(true);
  });

  it("leaves other origins alone", async () => {
    const { h, dispatcher } = await setup();
    const other = await authorizationRecorder();
    closeLater(other.close);
    await (await request(h.server.mcpUrl, { dispatcher, method: "POST", headers, body })).body.text();
    await (await request(`${other.origin}/mcp`, { dispatcher })).body.text();
    expect(other.seen).toEqual([undefined]);
  });
});
