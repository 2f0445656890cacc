import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { maxBodyBytes, oauthErrorResponse } from "./http.js";
import type { OAuthProvider, RequestInfo } from "./oauth-provider.js";
import type { BearerOptions } from "./require-bearer.js";
import { OAuthServerError, invalidRequest } from "./server-errors.js";
import type { AuthInfo } from "./types.js";

/** Express-style continuation; Express's `NextFunction` fits. */
export type NextFunction = (error?: unknown) => void;

/** Options of {@link toNodeListener}; {@link nodeMiddleware} takes `bodyTimeoutMs` and `trustedProxies`. */
export interface NodeListenerOptions {
  /**
   * The origin request URLs are built from, e.g. the provider's `baseUrl`; the request's path and query
   * are appended. Default: taken from the `Host` header, which must then be a valid host (else 400).
   */
  origin?: string | URL;
  /** Receives errors of the adapter and the handler (then answered 500). Default: `console.error`. */
  onError?: (error: unknown) => void;
  /**
   * How long a request body may take to arrive, from the moment the adapter starts reading it; a slower
   * one is answered 408 and its connection closed. Default 10000 (Node's own limit would be 300 s).
   */
  bodyTimeoutMs?: number;
  /**
   * How many reverse proxies in front of this server append to `X-Forwarded-For`. The client address the
   * rate limits count by is then the entry that many hops from the right (each proxy appends the address
   * it was reached from); 0 takes the socket's address and ignores the header, which a client can set to
   * anything. Default 0. Set it exactly: one too many lets clients pick their own address.
   */
  trustedProxies?: number;
}

/** Default of {@link NodeListenerOptions.bodyTimeoutMs}. */
export const defaultBodyTimeoutMs = 10_000;

/**
 * A `node:http` request as a web `Request`. Express's parsed `req.body` is re-encoded if a body parser ran
 * first. Only origin-form targets (`/path?query`) are accepted: an absolute-form or `//host/...` target
 * would otherwise choose the URL's origin. Throws a 400 `OAuthServerError` for a request it refuses.
 */
export async function toWebRequest(req: IncomingMessage, origin?: string | URL, bodyTimeoutMs = defaultBodyTimeoutMs): Promise<Request> {
  const target = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  if (!target.startsWith("/") || target.startsWith("//")) throw invalidRequest("the request target must be a path");
  const href = `${origin === undefined ? hostOrigin(req) : new URL(origin).origin}${target}`;
  if (!URL.canParse(href)) throw invalidRequest("the request target is not a valid path");
  const url = new URL(href);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  // The body is handed over as bytes; framing headers of the node request no longer describe it.
  for (const name of ["content-length", "transfer-encoding", "connection"]) headers.delete(name);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: await readNodeBody(req, headers, bodyTimeoutMs) });
}

/**
 * Writes a web `Response` to a `node:http` response, keeping every `Set-Cookie`. When the request's body
 * was not read to its end (refused as too large or too slow), the answer says `Connection: close`: the
 * rest of that body would otherwise be read as the next request on a keep-alive connection.
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  if (res.req !== undefined && !res.req.complete) res.setHeader("connection", "close");
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/**
 * A `node:http` request listener serving a web-standard handler, e.g. `provider.handle` (pass
 * `{ origin: provider.baseUrl }`). A request the adapter refuses gets its 400; any other failure is
 * reported to `onError` and answered 500.
 */
export function toNodeListener(
  handler: (request: Request, info: RequestInfo) => Promise<Response>,
  options: NodeListenerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const onError = options.onError ?? ((error: unknown) => console.error("mcp-oauth server: a request failed", error));
  return (req, res) => {
    toWebRequest(req, options.origin, options.bodyTimeoutMs)
      .then((request) => handler(request, requestInfo(req, options.trustedProxies)))
      .then((response) => sendWebResponse(res, response))
      .catch((error: unknown) => {
        if (error instanceof OAuthServerError && !res.headersSent) return sendWebResponse(res, oauthErrorResponse(error));
        onError(error);
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      })
      .catch(onError);
  };
}

/**
 * Express/Connect middleware: the provider's endpoints and metadata are served (request URLs built on
 * its `baseUrl`), everything else goes to `next`, and so do failures.
 */
export function nodeMiddleware(
  provider: OAuthProvider,
  options: Pick<NodeListenerOptions, "bodyTimeoutMs" | "trustedProxies"> = {},
): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (req, res, next) => {
    const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    if (!provider.matches(new URL(path, "http://localhost"))) return next();
    toWebRequest(req, provider.baseUrl, options.bodyTimeoutMs)
      .then(
        (request) => provider.handle(request, requestInfo(req, options.trustedProxies)),
        (error: unknown) => (error instanceof OAuthServerError ? oauthErrorResponse(error) : Promise.reject(error)),
      )
      .then((response) => sendWebResponse(res, response))
      .catch(next);
  };
}

/**
 * The MCP endpoint guard as Express/Connect middleware: a valid token sets `req.auth` (which the MCP
 * SDK's `StreamableHTTPServerTransport` passes on to tools as `authInfo`) and calls `next`; otherwise
 * the 401/403 challenge is sent.
 */
export function nodeRequireBearer(
  provider: OAuthProvider,
  options?: BearerOptions,
): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (req, res, next) => {
    provider.checkAuthorization(req.headers.authorization, options).then((check) => {
      if (check.response) return sendWebResponse(res, check.response);
      (req as IncomingMessage & { auth?: AuthInfo }).auth = check.auth;
      next();
    }, next);
  };
}

/** The client's address: the socket's, or with `trustedProxies` hops the one `X-Forwarded-For` names that far from the right. */
export function requestInfo(req: IncomingMessage, trustedProxies = 0): RequestInfo {
  const socketAddress = req.socket.remoteAddress;
  if (socketAddress === undefined) return {};
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((hop) => hop.trim()).filter(Boolean);
  const hops = [...forwarded, socketAddress];
  // Fewer hops than trusted proxies: the leftmost is the furthest anyone vouches for.
  return { clientAddress: hops[Math.max(0, hops.length - 1 - Math.max(0, trustedProxies))] as string };
}

/** `http(s)://<Host>`, refusing a Host header that is not just a host and port. */
function hostOrigin(req: IncomingMessage): string {
  const host = req.headers.host ?? "localhost";
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.test(host)) throw invalidRequest("the Host header is not a valid host");
  return `${(req.socket as TLSSocket).encrypted ? "https" : "http"}://${host}`;
}

/**
 * The body as bytes, read until its end, until one byte over `maxBodyBytes` (enough for the handler to
 * refuse it; the rest is discarded as it arrives, so the client sees the 413 instead of a reset), or until
 * the deadline (408).
 */
function readNodeBody(req: IncomingMessage & { body?: unknown }, headers: Headers, timeoutMs: number): Promise<Blob> {
  if (req.readableEnded && req.body !== undefined) return Promise.resolve(new Blob([parsedBody(req.body, headers.get("content-type") ?? "")]));
  return new Promise<Blob>((resolve, reject) => {
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    let size = 0;
    const timer = setTimeout(() => done(new OAuthServerError("invalid_request", `the request body did not arrive within ${timeoutMs} ms`, 408)), timeoutMs);
    const onData = (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      chunks.push(new Uint8Array(buffer));
      size += buffer.length;
      if (size > maxBodyBytes) done();
    };
    const onEnd = () => done();
    const onError = (error: Error) => done(error);
    function done(error?: unknown): void {
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onError);
      // Whatever is still coming is read and dropped (the stream stays flowing), never left in the socket.
      req.on("error", () => {}).resume();
      if (error === undefined) resolve(new Blob(chunks));
      else reject(error);
    }
    req.on("data", onData).on("end", onEnd).on("error", onError);
  });
}

/**
 * A body a parser already consumed, encoded again. A form parser turns a repeated parameter into an
 * array (and an extended one `a[b]=c` into an object): re-encoded, that would read as one value, and
 * RFC 6749 §3.1 makes a repeated parameter an error, so anything but a string is refused.
 */
function parsedBody(body: unknown, contentType: string): string | Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return body;
  if (Buffer.isBuffer(body)) return new Uint8Array(body);
  if (!contentType.startsWith("application/x-www-form-urlencoded") || typeof body !== "object" || body === null) return JSON.stringify(body);
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(body)) {
    if (typeof value !== "string") throw invalidRequest(`parameter \`${key.slice(0, 100)}\` was sent more than once, or with brackets`);
    form.append(key, value);
  }
  return form.toString();
}
