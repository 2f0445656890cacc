import { discoverAuthorizationServer, discoverLegacyAuthorizationServer } from "./discover-authorization-server.js";
import { discoverResource } from "./discover-resource.js";
import type { MetadataContext } from "./fetch-metadata.js";
import type { DiscoveryRecord } from "./token-store.js";

/**
 * Step 2 as a whole: protected resource metadata, then its (first) authorization server; or, for a
 * server of the 2025-03-26 generation without resource metadata, the legacy path at its origin.
 */
export async function discover(mcpUrl: URL, serverKey: string, challengeUrl: string | undefined, ctx: MetadataContext, now: number): Promise<DiscoveryRecord> {
  const prm = await discoverResource(mcpUrl, challengeUrl, ctx);
  if (!prm) {
    ctx.onEvent({ type: "resource_metadata_absent" });
    const { metadata, url } = await discoverLegacyAuthorizationServer(mcpUrl, ctx);
    ctx.onEvent({ type: "authorization_server_found", issuer: metadata.issuer, metadataUrl: url });
    return { resource: serverKey, authorizationServer: metadata, legacy: true, discoveredAt: now };
  }
  ctx.onEvent({ type: "resource_metadata_found", url: prm.url, resource: prm.resource, authorizationServers: prm.authorizationServers });
  const { metadata, url } = await discoverAuthorizationServer(prm.authorizationServers[0] as string, ctx);
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
