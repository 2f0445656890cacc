import { z } from "zod";
import { assertSecureEndpoint } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import { fetchMetadata, wellKnownUrl, type MetadataContext } from "./fetch-metadata.js";
import { resourceCovers } from "../shared/resource-covers.js";

export interface ResourceMetadata {
  url: string;
  resource: string;
  authorizationServers: string[];
  scopesSupported?: string[];
}

const prmSchema = z.looseObject({
  resource: z.string(),
  authorization_servers: z.array(z.string()).min(1, "lists no authorization_servers"),
  scopes_supported: z.array(z.string()).optional(),
});

/**
 * RFC 9728 discovery in the MCP order: the `resource_metadata` URL from the 401 challenge, then the
 * path-aware well-known URL, then the root one. `undefined` means the server has none (2025-03-26 era).
 */
export async function discoverResource(mcpUrl: URL, challengeUrl: string | undefined, ctx: MetadataContext): Promise<ResourceMetadata | undefined> {
  const candidates: URL[] = [];
  if (challengeUrl) candidates.push(assertSecureEndpoint(challengeUrl, "resource_metadata URL", ctx.rules));
  const pathAware = wellKnownUrl(mcpUrl, "oauth-protected-resource");
  const root = new URL("/.well-known/oauth-protected-resource", mcpUrl.origin);
  for (const url of [pathAware, root]) if (!candidates.some((seen) => seen.href === url.href)) candidates.push(url);

  for (const url of candidates) {
    const result = await fetchMetadata(url, ctx);
    if (!result.found) continue;
    const parsed = prmSchema.safeParse(result.json);
    if (!parsed.success) {
      throw new OAuthError("discovery_failed", `protected resource metadata at ${url.href} is invalid: ${parsed.error.issues[0]?.message}`);
    }
    const { resource, authorization_servers, scopes_supported } = parsed.data;
    assertResourceCovers(resource, mcpUrl);
    return {
      url: url.href,
      resource,
      authorizationServers: authorization_servers,
      ...(scopes_supported ? { scopesSupported: scopes_supported } : {}),
    };
  }
  return undefined;
}

/**
 * The metadata must describe this server: same origin, and the MCP URL's path inside the resource's
 * path. A document naming another server could send our credentials to an attacker's authorization
 * server, so this is checked before any authorization request.
 */
export function assertResourceCovers(resource: string, mcpUrl: URL): void {
  if (!resourceCovers(resource, mcpUrl)) {
    // The MCP URL without its query, which may carry a secret.
    throw new OAuthError("resource_mismatch", `protected resource metadata names resource ${resource}, which does not cover ${mcpUrl.origin}${mcpUrl.pathname}`);
  }
}
