import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { maxBodyBytes } from "./http.js";
import type { OAuthProvider } from "./oauth-provider.js";
import type { BearerOptions } from "./require-bearer.js";
import type { AuthInfo } from "./types.js";

/** Express-style continuation; Express's `NextFunction` fits. */
export type NextFunction = (error?: unknown) => void;

/** A `node:http` request as a web `Request`. Express's parsed `req.body` is re-encoded if a body parser ran first. */
export async function toWebRequest(req: IncomingMessage): Promise<Request> {
  const protocol = (req.socket as TLSSocket).encrypted ? "https" : "http";
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const url = new URL(path, `${protocol}://${req.headers.host ?? "localhost"}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  // The body is handed over as bytes; framing headers of the node request no longer describe it.
  for (const name of ["content-length", "transfer-encoding", "connection"]) headers.delete(name);
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  return new Request(url, { method, headers, body: await readNodeBody(req, headers) });
}

/** Writes a web `Response` to a `node:http` response, keeping every `Set-Cookie`. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** A `node:http` request listener serving a web-standard handler, e.g. `provider.handle`. */
export function toNodeListener(handler: (request: Request) => Promise<Response>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    toWebRequest(req)
      .then(handler)
      .then((response) => sendWebResponse(res, response))
      .catch(() => {
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
  };
}

/** Express/Connect middleware: the provider's endpoints and metadata are served, everything else goes to `next`. */
export function nodeMiddleware(provider: OAuthProvider): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  return (req, res, next) => {
    const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    if (!provider.matches(new URL(path, "http://localhost"))) return next();
    toWebRequest(req)
      .then(provider.handle)
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

async function readNodeBody(req: IncomingMessage & { body?: unknown }, headers: Headers): Promise<Blob> {
  if (req.readableEnded && req.body !== undefined) {
    const type = headers.get("content-type") ?? "";
    if (type.startsWith("application/x-www-form-urlencoded") && typeof req.body === "object" && req.body !== null) {
      return new Blob([new URLSearchParams(req.body as Record<string, string>).toString()]);
    }
    return new Blob([typeof req.body === "string" ? req.body : JSON.stringify(req.body)]);
  }
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(new Uint8Array(buffer));
    size += buffer.length;
    // One byte over the limit is enough for the handler to refuse the body; the rest is not read.
    if (size > maxBodyBytes) break;
  }
  return new Blob(chunks);
}
