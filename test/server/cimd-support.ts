/** Shared by the metadata document tests: the document server, a resolver stand-in, and the document a well-behaved client serves. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { LookupFunction, Socket } from "node:net";
import { closeLater, REDIRECT_URI } from "./support.js";

export type DocumentHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface DocumentServer {
  port: number;
  server: Server;
  /** Requests per path. */
  hits: Map<string, number>;
  /** The headers of every request, in order. */
  requests: IncomingHttpHeaders[];
  /** Open TLS sockets (a test may check that none outlives its fetch). */
  sockets: Set<Socket>;
  /** `https://<host>:<port><path>`, the host being resolved to 127.0.0.1 by `resolveTo()`. */
  url(path: string, host?: string): string;
}

/**
 * An HTTPS server on 127.0.0.1 with `certificate`, answering every request with `handler`; closed (its
 * sockets destroyed) after the test. `keepAliveTimeout` in ms, Node's default unless given.
 */
export async function startDocumentServer(certificate: { key: string; cert: string }, handler: DocumentHandler, options: { keepAliveTimeout?: number } = {}): Promise<DocumentServer> {
  const hits = new Map<string, number>();
  const requests: IncomingHttpHeaders[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ key: certificate.key, cert: certificate.cert, ...options }, (request, response) => {
    const path = new URL(request.url ?? "/", "https://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    requests.push(request.headers);
    handler(request, response);
  });
  server.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closeLater(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { port, server, hits, requests, sockets, url: (path, host = "client.example.test") => `https://${host}:${port}${path}` };
}

/** A resolver answering `addresses` (default 127.0.0.1) for every name, as `dns.lookup` would. */
export function resolveTo(...addresses: string[]): LookupFunction {
  const list = (addresses.length > 0 ? addresses : ["127.0.0.1"]).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  return ((_hostname: string, options: { all?: boolean }, callback: (error: null, address: unknown, family?: number) => void) => {
    queueMicrotask(() => (options.all ? callback(null, list) : callback(null, list[0]?.address, list[0]?.family)));
  }) as unknown as LookupFunction;
}

/** The document a well-behaved client serves at `url`. */
export function documentFor(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: url, client_name: "Example CIMD client", redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], ...extra };
}
