import { Agent, request } from "node:http";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { InMemoryOAuthProvider, toNodeListener } from "../../src/server/index.js";
import { listenLocal } from "../support/local-server.js";
import { closeLater } from "./support.js";

/**
 * Request bodies the node adapter refuses: one over the size limit must not break the keep-alive
 * connection it came on (a pooled connection handed to the next request would be reset), and one that
 * arrives too slowly gets a 408 at the adapter's own deadline instead of holding a socket for Node's 300 s.
 */
async function listener(options: Parameters<typeof toNodeListener>[1] = {}) {
  const provider = new InMemoryOAuthProvider({ baseUrl: "http://127.0.0.1:1", clientRegistration: { enabled: true } });
  const server = await listenLocal(toNodeListener(provider.handle, { origin: "http://127.0.0.1:1", ...options }));
  closeLater(server.close);
  return server;
}

function post(agent: Agent, url: string, body: string): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("toNodeListener and request bodies", () => {
  it("answers an oversized body 413 with Connection: close, and the next request on the same agent works", async () => {
    const server = await listener();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const small = JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], token_endpoint_auth_method: "none" });
      // Chunked (no Content-Length), so the adapter has to read past the limit to find out.
      const huge = JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], padding: "x".repeat(200_000) });
      for (let round = 0; round < 10; round++) {
        const refused = await post(agent, `${server.origin}/register`, huge);
        expect(refused.status).toBe(413);
        expect(refused.connection).toBe("close");
        const next = await post(agent, `${server.origin}/register`, small);
        expect(next.status).toBe(201);
      }
    } finally {
      agent.destroy();
    }
  });

  it("answers a body that does not arrive within bodyTimeoutMs with 408 and closes the connection", async () => {
    const server = await listener({ bodyTimeoutMs: 200 });
    const { port } = new URL(server.origin);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () =>
        socket.write("POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"),
      );
      let data = "";
      socket.setTimeout(5_000, () => socket.destroy(new Error("no answer within 5 s")));
      socket.on("data", (chunk) => (data += String(chunk)));
      socket.on("error", reject);
      socket.on("close", () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
