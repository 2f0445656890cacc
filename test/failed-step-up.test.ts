import Keyv from "keyv";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError } from "../src/index.js";
import { hostileServer } from "./support/hostile-server.js";
import { listenLocal } from "./support/local-server.js";
import { captureLogger } from "./support/openers.js";

/**
 * An MCP server whose `tools/list` takes the token of its first authorization server, and whose
 * `tools/call` asks for a step-up at another one (its challenge names other resource metadata). The
 * step-up's login fails there: the token in hand must go on working.
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function world() {
  const first = await hostileServer({ token: { body: { access_token: "T1-first-server", refresh_token: "R1", token_type: "Bearer", expires_in: 3600 } } });
  const second = await hostileServer({ token: { status: 400, body: { error: "invalid_grant" } }, later: { status: 400, body: { error: "invalid_grant" } } });
  const seen: { method: string; authorization: string | undefined }[] = [];
  let origin = "";
  const mcp = await listenLocal((request, response) => {
    void (async () => {
      let body = "";
      for await (const chunk of request) body += String(chunk);
      const url = new URL(request.url ?? "/", origin);
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
        void response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(value));
      if (url.pathname === "/.well-known/oauth-protected-resource/mcp") return json(200, { resource: `${origin}/mcp`, authorization_servers: [first.origin] });
      if (url.pathname === "/prm-of-the-second") return json(200, { resource: `${origin}/mcp`, authorization_servers: [second.origin] });
      const method = (JSON.parse(body || "{}") as { method?: string }).method ?? "";
      seen.push({ method, authorization: request.headers.authorization });
      if (!request.headers.authorization) return json(401, {}, { "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` });
      if (method === "tools/call") {
        return json(403, {}, { "www-authenticate": `Bearer error="insufficient_scope", scope="admin", resource_metadata="${origin}/prm-of-the-second"` });
      }
      return json(200, { jsonrpc: "2.0", id: 1, result: {} });
    })();
  });
  origin = mcp.origin;
  closers.push(first.close, second.close, mcp.close);
  return { first, second, mcpUrl: `${mcp.origin}/mcp`, seen };
}

const call = (method: string): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method }) });

describe("a failed step-up keeps the working token", () => {
  it("toward another authorization server: the next request still goes out with the first server's token, and no second login opens", async () => {
    const w = await world();
    const store = new Keyv();
    const opened: string[] = [];
    const oauth = new OAuth({
      mcpUrl: w.mcpUrl,
      tokenStorage: store,
      logger: captureLogger(),
      openBrowser: async (url) => {
        opened.push(url);
        await fetch(url).then((page) => page.body?.cancel());
      },
    });
    expect((await oauth.fetch(w.mcpUrl, call("tools/list"))).status).toBe(200);
    const error = await oauth.fetch(w.mcpUrl, call("tools/call")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe("token_exchange_failed");
    expect(w.second.count("/token")).toBe(1);

    expect((await oauth.fetch(w.mcpUrl, call("tools/list"))).status).toBe(200);
    expect(w.seen.at(-1)).toEqual({ method: "tools/list", authorization: "Bearer T1-first-server" });
    expect(opened).toHaveLength(2);
    // The store says the same: a restarted process uses the first server's token, with no login.
    expect(((await store.get(oauth.storageKey("discovery"))) as { authorizationServer: { issuer: string } }).authorizationServer.issuer).toBe(w.first.origin);
    const restarted = new OAuth({ mcpUrl: w.mcpUrl, tokenStorage: store, logger: captureLogger(), openBrowser: (url) => void opened.push(url) });
    expect((await restarted.fetch(w.mcpUrl, call("tools/list"))).status).toBe(200);
    expect(w.seen.at(-1)?.authorization).toBe("Bearer T1-first-server");
    expect(opened).toHaveLength(2);
  });
});
