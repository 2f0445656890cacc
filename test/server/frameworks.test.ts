import express from "express";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { startExpressExample } from "../../examples/server-express.js";
import { startHonoExample } from "../../examples/server-hono.js";
import { Client } from "../../src/client.js";
import { OAuth } from "../../src/index.js";
import { InMemoryOAuthProvider, nodeMiddleware } from "../../src/server/index.js";
import { listenLocal } from "../support/local-server.js";
import { captureLogger, followRedirects } from "../support/openers.js";
import { closeLater, pkce } from "./support.js";

async function loginAndCall(mcpUrl: string): Promise<string> {
  const oauth = new OAuth({ mcpUrl, tokenStorage: new Keyv(), openBrowser: followRedirects().open, logger: captureLogger() });
  const client = new Client(mcpUrl, { auth: oauth, transport: "streamable-http" });
  await client.connect();
  const who = await client.callTool("whoami");
  const sum = await client.callTool("add", { a: 40, b: 2 });
  await client.close();
  return `${(sum.content as { text: string }[])[0]?.text} ${(who.content as { text: string }[])[0]?.text}`;
}

describe("mounted in frameworks (examples/server-express.ts, examples/server-hono.ts)", () => {
  for (const [name, start] of [
    ["Express", startExpressExample],
    ["Hono", startHonoExample],
  ] as const) {
    it(`${name}: 401 challenge, then our client logs in and the tools see the caller`, async () => {
      const server = await start(0, { autoApprove: true });
      closeLater(server.close);
      const challenge = await fetch(server.mcpUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(challenge.status).toBe(401);
      expect(challenge.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${server.origin}/.well-known/oauth-protected-resource/mcp"`);
      const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      expect(metadata.issuer).toBe(server.origin);
      expect(await loginAndCall(server.mcpUrl)).toMatch(/^42 \{"subject":"user","clientId":"[^"]+","scopes":\[\]\}$/);
    });
  }

  it("the node middleware reads a body an Express body parser has already consumed", async () => {
    const holder: { provider?: InMemoryOAuthProvider } = {};
    const app = express();
    app.use(express.urlencoded({ extended: false }), express.json());
    app.use((req, res, next) => nodeMiddleware(holder.provider!)(req, res, next));
    const server = await listenLocal(app);
    closeLater(server.close);
    holder.provider = new InMemoryOAuthProvider({ baseUrl: server.origin, autoApprove: true, clientRegistration: { enabled: true } });

    const registered = await fetch(`${server.origin}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/cb"], token_endpoint_auth_method: "none" }),
    });
    expect(registered.status).toBe(201);
    const { client_id } = (await registered.json()) as { client_id: string };
    const { verifier, challenge } = pkce();
    const authorize = await fetch(`${server.origin}/authorize?${new URLSearchParams({ response_type: "code", client_id, code_challenge: challenge, code_challenge_method: "S256" })}`, { redirect: "manual" });
    const code = new URL(authorize.headers.get("location") ?? "").searchParams.get("code") ?? "";
    const token = await fetch(`${server.origin}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", client_id, code, code_verifier: verifier }).toString(),
    });
    expect(token.status).toBe(200);
    expect(((await token.json()) as { token_type: string }).token_type).toBe("Bearer");
    // Unknown paths fall through to the next handler (Express answers 404 itself).
    expect((await fetch(`${server.origin}/elsewhere`)).status).toBe(404);
  });
});
