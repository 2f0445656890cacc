import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { callbackPageHeaders, renderCallbackPage } from "../shared/callback-page.js";
import { OAuthError } from "../shared/errors.js";

export interface CallbackListenerOptions<T> {
  /** 0 lets the OS pick. */
  port: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /**
   * Whether a request to `/callback` answers this flow's authorization request (its `state` matches).
   * Any other request, a stray or hostile one on a port that is easy to guess, gets a 400 page and is
   * otherwise ignored: it cannot end the login, which goes on waiting for the real callback.
   */
  belongs: (callbackUrl: URL) => boolean;
  /**
   * Judges the first request to `/callback` that belongs to the flow. Its result settles the flow; if it
   * throws an `OAuthError`, the browser is shown that error's message and the flow fails with it.
   */
  handle: (callbackUrl: URL) => Promise<T>;
}

export interface CallbackListener<T> {
  redirectUri: string;
  port: number;
  /** Settles with the outcome of the first callback, or rejects on timeout or abort. */
  result: Promise<T>;
  close(): Promise<void>;
}

const host = "127.0.0.1";
const callbackPath = "/callback";

/**
 * The loopback redirect target (RFC 8252 §7.3): bound to 127.0.0.1 only, listening before the browser
 * opens, settled by the first request to `/callback` that belongs to the flow and closed right after it
 * or at the deadline. Other paths (a favicon, a probe) get 404, and callbacks that do not belong get 400;
 * both leave the flow running.
 */
export async function listenForCallback<T>(options: CallbackListenerOptions<T>): Promise<CallbackListener<T>> {
  let settled = false;
  // Declared up front: a signal that is already aborted calls close() before the code below it runs.
  let closing: Promise<void> | undefined;
  let settle!: { resolve: (value: T) => void; reject: (error: unknown) => void };
  const result = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => {}); // the caller may stop listening before awaiting it

  const server: Server = createServer((request, response) => void onRequest(request, response));
  server.keepAliveTimeout = 1_000;

  async function onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", `http://${host}`);
    if (url.pathname !== callbackPath) return send(response, 404, "Not found", "text/plain; charset=utf-8");
    if (request.method !== "GET") return send(response, 405, "Method not allowed", "text/plain; charset=utf-8");
    if (settled) return sendPage(response, 400, { ok: false, message: "This authorization has already completed." });
    if (!options.belongs(url)) {
      return sendPage(response, 400, { ok: false, message: "This response does not belong to the sign-in in progress, which is still waiting for its own." });
    }
    settled = true;
    try {
      const value = await options.handle(url);
      sendPage(response, 200, { ok: true });
      settle.resolve(value);
    } catch (error) {
      const message = error instanceof OAuthError ? error.message : "The authorization response could not be processed.";
      sendPage(response, 400, { ok: false, message });
      settle.reject(error);
    }
    void close();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause: NodeJS.ErrnoException) =>
      reject(new OAuthError("callback_failed", `cannot listen on ${host}:${options.port} for the OAuth callback (${cause.code ?? cause.message})`, { cause })),
    );
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const timer = setTimeout(() => fail(new OAuthError("callback_timeout", `no OAuth callback arrived within ${options.timeoutMs} ms`)), options.timeoutMs);
  timer.unref();
  const onAbort = () => fail(new OAuthError("aborted", "the authorization was aborted", { cause: options.signal?.reason }));
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  function fail(error: OAuthError): void {
    if (settled) return;
    settled = true;
    settle.reject(error);
    void close();
  }

  function close(): Promise<void> {
    if (!closing) {
      if (!settled) {
        settled = true;
        settle.reject(new OAuthError("aborted", "the callback server was closed before a callback arrived"));
      }
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      // server.close() drops idle keep-alive sockets itself (Node >= 19), and every page this listener
      // writes for a callback says `connection: close`, so no browser socket keeps the port open.
      closing = new Promise<void>((resolve) => server.close(() => resolve()));
    }
    return closing;
  }

  return { redirectUri: `http://${host}:${port}${callbackPath}`, port, result, close };
}

function sendPage(response: ServerResponse, status: number, outcome: Parameters<typeof renderCallbackPage>[0]): void {
  response.writeHead(status, { ...callbackPageHeaders, connection: "close" });
  response.end(renderCallbackPage(outcome));
}

function send(response: ServerResponse, status: number, body: string, type: string): void {
  response.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-frame-options": "DENY" });
  response.end(body);
}
