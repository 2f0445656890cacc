/**
 * True when `resource` describes the server at `mcpUrl`: same origin, the MCP URL's path inside the
 * resource's path, no fragment. Discovery requires it of fresh metadata, and the store of stored records.
 */
export function resourceCovers(resource: string, mcpUrl: URL): boolean {
  const parsed = URL.canParse(resource) ? new URL(resource) : undefined;
  return parsed !== undefined && parsed.origin === mcpUrl.origin && pathWithin(mcpUrl.pathname, parsed.pathname) && !parsed.hash;
}

/** True when `path` equals `base` or lies below it at a segment boundary. */
export function pathWithin(path: string, base: string): boolean {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed === "" || path === trimmed || path.startsWith(`${trimmed}/`);
}
