import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Route {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A purpose-built server for discovery faults the SDK peer cannot produce (odd metadata locations,
 * redirects, oversized bodies). Unknown paths answer 404. Routes may be added after start, since they
 * often need the server's own origin.
 */
export async function startMetadataServer(routes: Record<string, Route | ((origin: string) => Route)> = {}) {
  const requested: string[] = [];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    requested.push(path);
    const entry = routes[path];
    const route = typeof entry === "function" ? entry(origin) : entry;
    if (!route) return void response.writeHead(404).end();
    const body = typeof route.body === "string" ? route.body : JSON.stringify(route.body ?? {});
    response.writeHead(route.status ?? 200, { "content-type": "application/json", ...route.headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    routes,
    requested,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Minimal valid authorization server metadata for `issuer`. */
export function asMetadata(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = new URL(issuer).origin;
  return {
    issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    response_types_supported: ["code"],
    code_challenge_methods_supported: ["S256"],
    ...extra,
  };
}
