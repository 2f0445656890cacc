import { createHash } from "node:crypto";

/**
 * The MCP URL as it appears in storage keys and records: origin and path (no trailing slash, no
 * credentials, no fragment), and the query, which may carry a secret such as an API key, only as a
 * hash, so that `?tenant=a` and `?tenant=b` stay apart without either value being stored in clear.
 */
export function serverKeyOf(mcpUrl: URL): string {
  const base = `${mcpUrl.origin}${mcpUrl.pathname.replace(/\/+$/, "")}`;
  if (mcpUrl.search === "" || mcpUrl.search === "?") return base;
  return `${base}?sha256=${createHash("sha256").update(mcpUrl.search.slice(1)).digest("hex").slice(0, 32)}`;
}

/**
 * The RFC 8707 resource of an MCP server that publishes no resource metadata (2025-03-26): origin and
 * path. The query is not part of it: it may carry a secret, and would travel in the browser URL and the
 * token request. With resource metadata, its `resource` is used as the server states it.
 */
export function resourceOf(mcpUrl: URL): string {
  return `${mcpUrl.origin}${mcpUrl.pathname.replace(/\/+$/, "")}`;
}
