import { connect } from "node:net";
import express from "express";
import { describe, expect, it } from "vitest";
import { InMemoryOAuthProvider, nodeMiddleware, toNodeListener } from "../../src/server/index.js";
import { listenLocal } from "../support/local-server.js";
import { closeLater } from "./support.js";

/** Sends `head` verbatim on a fresh connection and returns the response's status line and body (bounded by a timeout). */
function raw(origin: string, head: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
    let data = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer")));
    socket.on("data", (chunk) => (data += String(chunk)));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(data.split(" ")[1]), body: data.split("\r\n\r\n").slice(1).join("\r\n\r\n") }));
  });
}

const metadataPath = "/.well-known/oauth-authorization-server";

async function listener(options: Parameters<typeof toNodeListener>[1] = {}, handler?: (request: Request) => Promise<Response>) {
  const provider = new InMemoryOAuthProvider({ baseUrl: "http://127.0.0.1:1" });
  const server = await listenLocal(toNodeListener(handler ?? provider.handle, options));
  closeLater(server.close);
  return server;
}

describe("toNodeListener", () => {
  it("refuses an invalid Host with 400 when no origin is configured, instead of a silent 500", async () => {
    const server = await listener();
    expect((await raw(server.origin, `GET ${metadataPath} HTTP/1.1\r\nHost: a b`)).status).toBe(400);
  });

  it("with a fixed origin, the Host header does not matter", async () => {
    const server = await listener({ origin: "http://127.0.0.1:1" });
    expect((await raw(server.origin, `GET ${metadataPath} HTTP/1.1\r\nHost: a b`)).status).toBe(200);
  });

  for (const target of [`//evil.example${metadataPath}`, `http://evil.example${metadataPath}`]) {
    it(`refuses the request target ${target} with 400 rather than routing it as a path`, async () => {
      const server = await listener({ origin: "http://127.0.0.1:1" });
      expect((await raw(server.origin, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1`)).status).toBe(400);
    });
  }

  it("reports a failing handler through onError and answers 500", async () => {
    const reported: unknown[] = [];
    const server = await listener({ onError: (error) => reported.push(error) }, async () => {
      throw new Error("boom");
    });
    expect((await fetch(`${server.origin}/x`)).status).toBe(500);
    expect(reported).toEqual([new Error("boom")]);
  });
});

describe("nodeMiddleware behind Express body parsers", () => {
  async function app(extended: boolean) {
    const holder: { provider?: InMemoryOAuthProvider } = {};
    const app = express();
    app.use(express.urlencoded({ extended }));
    app.use((req, res, next) => nodeMiddleware(holder.provider!)(req, res, next));
    const server = await listenLocal(app);
    closeLater(server.close);
    holder.provider = new InMemoryOAuthProvider({ baseUrl: server.origin, clientRegistration: { enabled: true } });
    return server;
  }
  const post = (origin: string, body: string) => fetch(`${origin}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });

  it("still refuses a parameter sent twice (the parser turned it into an array)", async () => {
    const server = await app(false);
    const response = await post(server.origin, "grant_type=refresh_token&grant_type=authorization_code&client_id=a&client_id=b");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("more than once") });
  });

  it("refuses a bracketed parameter an extended parser turned into an object", async () => {
    const server = await app(true);
    const response = await post(server.origin, "grant_type=refresh_token&client_id[x]=a&refresh_token=r");
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("builds the request from the provider's baseUrl, whatever the Host header says", async () => {
    const server = await app(false);
    expect((await raw(server.origin, `GET ${metadataPath} HTTP/1.1\r\nHost: a b`)).status).toBe(200);
  });
});
