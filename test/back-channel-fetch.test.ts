/**
 * The back-channel fetch (metadata, registration and token requests) against loopback servers: a body of
 * exactly `maxResponseBytes` passes, one byte more is refused, whether declared in Content-Length or not;
 * a declared size over the limit is refused at once, without waiting for a body that may never come; a
 * body arriving in many chunks is put back together in order; a response without a body (HEAD) is not an
 * error; the instance's signal aborts a request in flight; the refusal names the origin (or nothing,
 * for a response with no URL) and is a ResponseTooLargeError. And the documented defaults: 30 s, 1 MiB.
 */
import type { ServerResponse } from "node:http";
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { createBackChannelFetch, defaultBackChannelLimits, ResponseTooLargeError, type BackChannelLimits } from "../src/shared/back-channel.js";
import { isOAuthError, OAuth } from "../src/index.js";
import { cleanupAfterEach, listenLocal } from "./support/local-server.js";

const closeLater = cleanupAfterEach();

/** A loopback server answering every request with `answer`. */
async function serve(answer: (response: ServerResponse, method: string) => void): Promise<string> {
  const server = await listenLocal((request, response) => answer(response, request.method ?? "GET"));
  closeLater(server.close);
  return server.origin;
}

const limits = (maxResponseBytes: number, timeoutMs = 3_000): BackChannelLimits => ({ timeoutMs, maxResponseBytes });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error("it resolved"),
    (error: unknown) => error,
  );
}

describe("the size limit", () => {
  it("a body of exactly maxResponseBytes passes, declared or streamed without a length", async () => {
    const body = "x".repeat(1_000);
    const declared = await serve((response) => response.writeHead(200, { "content-length": String(body.length) }).end(body));
    const streamed = await serve((response) => {
      response.writeHead(200); // no Content-Length: chunked, only the reader counts
      response.write(body.slice(0, 500));
      response.end(body.slice(500));
    });
    const backChannel = createBackChannelFetch(fetch, limits(1_000));
    expect(await (await backChannel(declared)).text()).toBe(body);
    expect(await (await backChannel(streamed)).text()).toBe(body);
  });

  it("one byte more is refused, declared or streamed, as a ResponseTooLargeError naming the origin", async () => {
    const body = "x".repeat(1_001);
    const declared = await serve((response) => response.writeHead(200, { "content-length": String(body.length) }).end(body));
    const streamed = await serve((response) => {
      response.writeHead(200);
      response.write(body.slice(0, 500));
      response.end(body.slice(500));
    });
    const backChannel = createBackChannelFetch(fetch, limits(1_000));
    for (const origin of [declared, streamed]) {
      const error = await rejection(backChannel(origin));
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect(error).toMatchObject({ name: "ResponseTooLargeError", message: `response from ${origin} is larger than 1000 bytes` });
    }
  });

  it("a declared length over the limit is refused at once, before a body that never comes", async () => {
    // Headers and a few bytes, then nothing: only the declared length can tell, and waiting would run into the deadline.
    const origin = await serve((response) => {
      response.writeHead(200, { "content-length": "10000000" });
      response.write("x".repeat(10));
    });
    const started = performance.now();
    const error = await rejection(createBackChannelFetch(fetch, limits(1_000, 3_000))(origin));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("a response with no URL (built by the caller's fetch) is refused without naming an origin", async () => {
    const backChannel = createBackChannelFetch(async () => new Response("x".repeat(11)), limits(10));
    await expect(backChannel("http://127.0.0.1:9/")).rejects.toMatchObject({ message: "response is larger than 10 bytes" });
  });
});

describe("what comes back", () => {
  it("a body in many chunks is reassembled in order", async () => {
    // 300 kB in 1 kB writes: the reader sees many chunks, each to be put at its own offset.
    const parts = Array.from({ length: 300 }, (_, i) => String(i % 10).repeat(1_000));
    const origin = await serve((response) => {
      response.writeHead(200);
      for (const part of parts) response.write(part);
      response.end();
    });
    const response = await createBackChannelFetch(fetch, limits(1_000_000))(origin);
    expect(await response.text()).toBe(parts.join(""));
  });

  it("a HEAD answer, which has no body, is passed on with its status and headers", async () => {
    const origin = await serve((response) => response.writeHead(200, { "content-length": "5", "x-seen": "yes" }).end());
    const response = await createBackChannelFetch(fetch, limits(1_000))(origin, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-seen")).toBe("yes");
    expect(response.body).toBeNull();
  });
});

describe("signals", () => {
  it("the instance's signal aborts a request in flight, with its reason", async () => {
    const origin = await serve(() => undefined); // never answers
    const controller = new AbortController();
    const reason = new Error("instance closed");
    const pending = rejection(createBackChannelFetch(fetch, limits(1_000, 3_000), controller.signal)(origin));
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    expect(await pending).toBe(reason);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("defaults", () => {
  it("are the documented 30 s and 1 MiB", () => {
    expect(defaultBackChannelLimits).toEqual({ timeoutMs: 30_000, maxResponseBytes: 1_048_576 });
  });

  it("an OAuth with default options refuses metadata of 1 MiB + 1 byte", async () => {
    const big = `{"pad":"${"x".repeat(1_048_577 - 10)}"}`;
    expect(big.length).toBe(1_048_577);
    // Every path answers the oversized document: the first discovery request (the path-aware PRM) meets it.
    const metadata = await serve((response) => response.writeHead(200, { "content-type": "application/json" }).end(big));
    const oauth = new OAuth({ mcpUrl: `${metadata}/mcp`, tokenStorage: new Keyv(), openBrowser: () => undefined, logger: { warn: () => undefined } });
    const error = await rejection(oauth.getAccessToken());
    expect(isOAuthError(error, "discovery_failed") && error.message).toContain("larger than 1048576 bytes");
  });
});
