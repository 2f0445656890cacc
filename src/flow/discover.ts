import { discoverAuthorizationServer, discoverLegacyAuthorizationServer } from "./discover-authorization-server.js";
import { discoverResource } from "./discover-resource.js";
import { OAuthError } from "../shared/errors.js";
import { resourceOf } from "../shared/server-key.js";
import type { MetadataContext } from "./fetch-metadata.js";
import type { DiscoveryRecord } from "../store/token-store.js";

/**
 * Step 2 as a whole: protected resource metadata, then its authorization server (`wanted`, the
 * `authorizationServer` option, when the metadata lists it; the first one listed when no server is
 * wanted); or, for a server of the 2025-03-26 generation without resource metadata, the legacy path at
 * its origin. A wanted server the MCP server does not name is refused before any request goes to another.
 */
export async function discover(
  mcpUrl: URL,
  challengeUrl: string | undefined,
  ctx: MetadataContext,
  now: number,
  wanted?: string,
): Promise<DiscoveryRecord> {
  const prm = await discoverResource(mcpUrl, challengeUrl, ctx);
  if (!prm) {
    ctx.onEvent({ type: "resource_metadata_absent" });
    const { metadata, url } = await discoverLegacyAuthorizationServer(mcpUrl, ctx);
    if (wanted !== undefined && metadata.issuer !== wanted) throw notNamed(wanted, [metadata.issuer]);
    ctx.onEvent({ type: "authorization_server_found", issuer: metadata.issuer, metadataUrl: url });
    return { resource: resourceOf(mcpUrl), authorizationServer: metadata, legacy: true, discoveredAt: now };
  }
  ctx.onEvent({ type: "resource_metadata_found", url: prm.url, resource: prm.resource, authorizationServers: prm.authorizationServers });
  // The metadata lists at least one server (discoverResource refuses an empty list, C4).
  const issuer = wanted ?? (prm.authorizationServers[0] as string);
  if (!prm.authorizationServers.includes(issuer)) throw notNamed(issuer, prm.authorizationServers);
  const { metadata, url } = await discoverAuthorizationServer(issuer, ctx);
  ctx.onEvent({ type: "authorization_server_found", issuer: metadata.issuer, metadataUrl: url });
  return {
    resource: prm.resource,
    resourceMetadataUrl: prm.url,
    ...(prm.scopesSupported ? { scopesSupported: prm.scopesSupported } : {}),
    authorizationServer: metadata,
    legacy: false,
    discoveredAt: now,
  };
}

function notNamed(wanted: string, named: readonly string[]): OAuthError {
  return new OAuthError(
    "authorization_server_mismatch",
    `the MCP server names ${named.join(", ")} as its authorization server${named.length === 1 ? "" : "s"}, not ${wanted} (the \`authorizationServer\` option); nothing was sent to ${named.length === 1 ? "it" : "them"}`,
  );
}
