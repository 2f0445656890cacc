import Keyv from "keyv";
import { Agent, interceptors, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { OAuth, OAuthError } from "../src/index.js";
import { hostileServer, SECRET, type HostileAnswers, type HostileServer } from "./support/hostile-server.js";
import { captureLogger } from "./support/openers.js";

/**
 * An MCP server that redirects: to another path of its origin, outside the resource the token is for
 * (`/admin`, say a different application behind the same host), or within the resource (`/mcp/inner`).
 * The token must reach only the latter.
 */
let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const token = { body: { access_token: SECRET.access, refresh_token: SECRET.refresh, token_type: "Bearer", expires_in: 3600 } };
const bearer = `Bearer ${SECRET.access}`;

async function withToken(routes: NonNullable<HostileAnswers["routes"]>): Promise<OAuth> {
  server = await hostileServer({ token, routes });
  const oauth = new OAuth({
    mcpUrl: server.mcpUrl,
    tokenStorage: new Keyv(),
    logger: captureLogger(),
    openBrowser: async (url) => void (await fetch(url).then((page) => page.body?.cancel())),
  });
  await oauth.getAccessToken();
  return oauth;
}

const authorizationAt = (path: string) => server!.seen.filter((r) => r.path === path).map((r) => r.authorization);
const post = { method: "POST", headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' };

describe("oauth.fetch: the token follows a redirect only within its scope", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`a ${status} to another path of the origin arrives without the token`, async () => {
      const oauth = await withToken({ "/mcp": { status, location: "/admin", body: "" }, "/admin": { body: { ok: true } } });
      const response = await oauth.fetch(server!.mcpUrl, post);
      expect(response.status).toBe(200);
      expect(authorizationAt("/mcp")).toEqual([bearer]);
      expect(authorizationAt("/admin")).toEqual([undefined]);
    });
  }

  it("a 307 within the resource keeps the token and the body; a 303 turns a POST into a GET without a body", async () => {
    const oauth = await withToken({
      "/mcp": { status: 307, location: "/mcp/inner", body: "" },
      "/mcp/inner": { status: 303, location: "/mcp/result", body: "" },
      "/mcp/result": { body: { ok: true } },
    });
    expect((await oauth.fetch(server!.mcpUrl, post)).status).toBe(200);
    expect(authorizationAt("/mcp/inner")).toEqual([bearer]);
    expect(server!.seen.find((r) => r.path === "/mcp/inner")).toMatchObject({ method: "POST", body: post.body });
    expect(server!.seen.find((r) => r.path === "/mcp/result")).toMatchObject({ method: "GET", body: "", authorization: bearer });
  });

  it("once a redirect leaves the scope the token never comes back, even to the resource", async () => {
    const oauth = await withToken({
      "/mcp": { status: 307, location: "/admin", body: "" },
      "/admin": { status: 307, location: "/mcp/again", body: "" },
      "/mcp/again": { body: { ok: true } },
    });
    expect((await oauth.fetch(server!.mcpUrl, post)).status).toBe(200);
    expect(authorizationAt("/admin")).toEqual([undefined]);
    expect(authorizationAt("/mcp/again")).toEqual([undefined]);
  });

  it("redirect: manual is the caller's: the 3xx comes back as it is", async () => {
    const oauth = await withToken({ "/mcp": { status: 307, location: "/admin", body: "" } });
    const response = await oauth.fetch(server!.mcpUrl, { ...post, redirect: "manual" });
    expect(response.status).toBe(307);
    expect(server!.count("/admin")).toBe(0);
  });

  it("a redirect loop ends as fetch's does, after 20 hops", async () => {
    const oauth = await withToken({ "/mcp": { status: 307, location: "/mcp", body: "" } });
    await expect(oauth.fetch(server!.mcpUrl, post)).rejects.toThrow(TypeError);
    expect(server!.count("/mcp")).toBe(20);
  });
});

describe("oauth.interceptor() with undici's redirect interceptor", () => {
  const routes = { "/mcp": { status: 307, location: "/admin", body: "" }, "/admin": { body: { ok: true } } };

  it("composed outside ours (the documented order), every hop is checked: /admin gets no token", async () => {
    const oauth = await withToken(routes);
    const dispatcher = new Agent().compose(oauth.interceptor(), interceptors.redirect({ maxRedirections: 3 }));
    const answer = await request(server!.mcpUrl, { dispatcher, ...post });
    expect(answer.statusCode).toBe(200);
    await answer.body.dump();
    expect(authorizationAt("/mcp")).toEqual([bearer]);
    expect(authorizationAt("/admin")).toEqual([undefined]);
    await dispatcher.close();
  });

  it("composed inside ours, a hop that would carry the token is refused with redirect_refused before it is sent", async () => {
    const oauth = await withToken(routes);
    const dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 3 }), oauth.interceptor());
    const error = await request(server!.mcpUrl, { dispatcher, ...post }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).code).toBe("redirect_refused");
    expect(server!.count("/admin")).toBe(0);
    await dispatcher.close();
  });
});
