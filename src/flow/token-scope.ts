import type { DiscoveryRecord } from "../store/token-store.js";

/** Where a token may be sent: worked out once per discovery, since every request is checked against it. */
export interface TokenScope {
  origin: string;
  /** Resource path without trailing slash; "" covers the whole origin. */
  path: string;
  /** Paths of the authorization server's endpoints on this origin: never sent the token. */
  excluded: ReadonlySet<string>;
}

/** The resource's origin and path (the whole origin on the 2025-03-26 path); the MCP URL before discovery. */
export function tokenScope(discovery: DiscoveryRecord | undefined, mcpUrl: URL): TokenScope {
  const base = discovery ? new URL(discovery.resource) : mcpUrl;
  const as = discovery?.authorizationServer;
  const excluded = new Set<string>();
  // A resource that spans the whole origin may share it with its authorization server.
  for (const endpoint of as ? [as.authorization_endpoint, as.token_endpoint, as.registration_endpoint, as.revocation_endpoint] : []) {
    const url = endpoint && URL.canParse(endpoint) ? new URL(endpoint) : undefined;
    if (url?.origin === base.origin) excluded.add(url.pathname);
  }
  return { origin: base.origin, path: discovery?.legacy ? "" : base.pathname.replace(/\/+$/, ""), excluded };
}

export function inScope(scope: TokenScope, url: URL): boolean {
  if (url.origin !== scope.origin || url.pathname.startsWith("/.well-known/") || scope.excluded.has(url.pathname)) return false;
  return scope.path === "" || url.pathname === scope.path || url.pathname.startsWith(`${scope.path}/`);
}
