import { describe, expect, it } from "vitest";
import { harness, rpc } from "./support/harness.js";
import { cleanupAfterEach } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

describe("one process, many requests", () => {
  it("1000 concurrent requests with an expired access token make exactly one token request", async () => {
    const h = await harness({ faults: {} });
    closeLater(h.server.close);
    expect((await h.oauth.fetch(h.server.mcpUrl, rpc())).status).toBe(200);
    h.server.faults.tokenDelayMs = 100; // keep the refresh in flight while every request arrives
    h.clock.now += 3_600_000;
    const statuses = await Promise.all(Array.from({ length: 1000 }, () => h.oauth.fetch(h.server.mcpUrl, rpc()).then((r) => r.status)));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(h.server.count((r) => r.path === "/token" && r.form.grant_type === "refresh_token")).toBe(1);
    expect(h.server.count((r) => r.path === "/token")).toBe(2); // the login's code exchange, and that one refresh
  });
});
