import { getEventListeners } from "node:events";
import { Agent, createServer, request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { isOAuthError } from "../src/index.js";
import { listenForCallback, type CallbackListener } from "../src/flow/listen-for-callback.js";

/**
 * The loopback listener on its own, for the states a whole flow rarely reaches: a second callback while the
 * first one's code is still being exchanged, a deadline or an abort during that exchange, a signal that was
 * aborted before listening, `close()` before any callback. Each test kills a mutant the flow tests let
 * survive (docs/mutation.md).
 */
const listeners: CallbackListener<unknown>[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function listen(options: Partial<Parameters<typeof listenForCallback<string>>[0]> = {}): Promise<CallbackListener<string>> {
  const listener = await listenForCallback<string>({ port: 0, timeoutMs: 5_000, belongs: (url) => url.searchParams.get("state") === "s", handle: async () => "done", ...options });
  listeners.push(listener);
  return listener;
}

/** A GET on a fresh connection that reports the status, the headers and the body. */
function get(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    })
      .on("error", reject)
      .end();
  });
}

describe("the loopback listener while the code is being exchanged", () => {
  it("answers a second callback with the same state 400 'already completed' and exchanges only once", async () => {
    const exchange = deferred<string>();
    let calls = 0;
    const listener = await listen({
      handle: () => {
        calls++;
        return exchange.promise;
      },
    });
    const first = get(`${listener.redirectUri}?code=one&state=s`);
    await waitFor(() => calls === 1);
    const second = await get(`${listener.redirectUri}?code=two&state=s`);
    expect(second.status).toBe(400);
    expect(second.body).toContain("Authorization failed");
    expect(second.body).toContain("already completed");
    expect(calls).toBe(1);
    exchange.resolve("tokens");
    expect((await first).status).toBe(200);
    expect(await listener.result).toBe("tokens");
  });

  it("does not let the deadline cut off an exchange that is in flight", async () => {
    const exchange = deferred<string>();
    let calls = 0;
    const listener = await listen({
      timeoutMs: 150,
      handle: () => {
        calls++;
        return exchange.promise;
      },
    });
    const page = get(`${listener.redirectUri}?code=one&state=s`);
    await waitFor(() => calls === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    exchange.resolve("tokens");
    expect(await listener.result).toBe("tokens");
    expect((await page).status).toBe(200);
  });

  it("does not let an abort after the callback replace the exchange's own outcome", async () => {
    const controller = new AbortController();
    const exchange = deferred<string>();
    let calls = 0;
    const listener = await listen({
      signal: controller.signal,
      handle: () => {
        calls++;
        return exchange.promise;
      },
    });
    const page = get(`${listener.redirectUri}?code=one&state=s`);
    await waitFor(() => calls === 1);
    controller.abort();
    exchange.resolve("tokens");
    expect(await listener.result).toBe("tokens");
    expect((await page).status).toBe(200);
  });
});

describe("the loopback listener's own ends", () => {
  it("a signal aborted before listening fails the result at once and releases the port", async () => {
    const controller = new AbortController();
    controller.abort(new Error("user gave up"));
    const listener = await listen({ signal: controller.signal, timeoutMs: 60_000 });
    const error = await listener.result.catch((e: unknown) => e);
    expect(isOAuthError(error, "aborted")).toBe(true);
    await listener.close();
    await expect(get(listener.redirectUri)).rejects.toThrow();
  });

  it("close() before any callback rejects the result with aborted", async () => {
    const listener = await listen({ timeoutMs: 60_000 });
    await listener.close();
    const error = await listener.result.catch((e: unknown) => e);
    expect(isOAuthError(error, "aborted")).toBe(true);
    expect((error as Error).message).toMatch(/closed before a callback arrived/);
  });

  it("the deadline fails the result with callback_timeout", async () => {
    const listener = await listen({ timeoutMs: 100 });
    const error = await listener.result.catch((e: unknown) => e);
    expect(isOAuthError(error, "callback_timeout")).toBe(true);
  });
});

describe("what the listener's failures say", () => {
  it("an abort names itself and keeps the signal's reason as its cause", async () => {
    const controller = new AbortController();
    const listener = await listen({ signal: controller.signal, timeoutMs: 60_000 });
    controller.abort(new Error("user gave up"));
    const error = (await listener.result.catch((e: unknown) => e)) as Error;
    expect(error.message).toBe("the authorization was aborted");
    expect((error.cause as Error).message).toBe("user gave up");
  });

  it("the deadline says how long it waited", async () => {
    const listener = await listen({ timeoutMs: 100 });
    expect(((await listener.result.catch((e: unknown) => e)) as Error).message).toBe("no OAuth callback arrived within 100 ms");
  });

  it("a taken port names the address and the system's code, and keeps the cause", async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const error = (await listenForCallback({ port, timeoutMs: 5_000, belongs: () => true, handle: async () => 1 }).catch((e: unknown) => e)) as Error & { code: string };
      expect(error.code).toBe("callback_failed");
      expect(error.message).toBe(`cannot listen on 127.0.0.1:${port} for the OAuth callback (EADDRINUSE)`);
      expect((error.cause as { code?: string }).code).toBe("EADDRINUSE");
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("a handler that throws something other than an OAuthError shows a generic page and fails the result with it", async () => {
    const listener = await listen({
      handle: () => Promise.reject(new Error("internal detail that must not reach the page")),
    });
    const page = await get(`${listener.redirectUri}?code=one&state=s`);
    expect(page.status).toBe(400);
    expect(page.body).toContain("The authorization response could not be processed.");
    expect(page.body).not.toContain("internal detail");
    expect(((await listener.result.catch((e: unknown) => e)) as Error).message).toBe("internal detail that must not reach the page");
  });

  it("leaves no listener on the caller's signal once closed (a long-lived signal would collect them)", async () => {
    const controller = new AbortController();
    const listener = await listen({ signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    await listener.close();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("the loopback listener's answers", () => {
  it("404 and 405 answers are plain text, never cached, never framed", async () => {
    const listener = await listen();
    const notFound = await get(new URL("/favicon.ico", listener.redirectUri).href);
    expect(notFound.status).toBe(404);
    const methodNotAllowed = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      request(listener.redirectUri, { method: "POST", agent: false }, (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, headers: response.headers });
      })
        .on("error", reject)
        .end();
    });
    expect(methodNotAllowed.status).toBe(405);
    expect(notFound.body).toBe("Not found");
    for (const answer of [notFound, methodNotAllowed]) {
      expect(answer.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(answer.headers["cache-control"]).toBe("no-store");
      expect(answer.headers["x-frame-options"]).toBe("DENY");
    }
  });

  it("the callback page closes its connection, so a browser's keep-alive socket does not hold the port", async () => {
    const listener = await listen();
    const agent = new Agent({ keepAlive: true });
    const page = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      request(`${listener.redirectUri}?code=one&state=s`, { agent }, (response) => {
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection }));
      })
        .on("error", reject)
        .end();
    });
    expect(page.status).toBe(200);
    expect(page.connection).toBe("close");
    await listener.close();
    agent.destroy();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}
