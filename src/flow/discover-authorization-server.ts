import { processDiscoveryResponse } from "oauth4webapi";
import { assertSecureEndpoint } from "../shared/back-channel.js";
import { OAuthError } from "../shared/errors.js";
import { fetchMetadata, wellKnownUrl, type MetadataContext } from "./fetch-metadata.js";
import { toOAuthError } from "../shared/map-error.js";
import { authorizationServerMetadataSchema, type AuthorizationServerMetadata } from "../store/token-store.js";

/**
 * RFC 8414 and OpenID Connect discovery in the order of the MCP spec (2025-11-25):
 * an issuer with a path tries OAuth path insertion, OIDC path insertion, OIDC path appending;
 * a root issuer tries OAuth then OIDC. The document's `issuer` must equal the issuer string exactly.
 */
export async function discoverAuthorizationServer(issuer: string, ctx: MetadataContext): Promise<{ metadata: AuthorizationServerMetadata; url: string }> {
  const issuerUrl = assertSecureEndpoint(issuer, "authorization server issuer", ctx.rules);
  const hasPath = issuerUrl.pathname.replace(/\/+$/, "") !== "";
  const candidates = hasPath
    ? [
        wellKnownUrl(issuerUrl, "oauth-authorization-server"),
        wellKnownUrl(issuerUrl, "openid-configuration"),
        new URL(`${issuerUrl.pathname.replace(/\/+$/, "")}/.well-known/openid-configuration`, issuerUrl.origin),
      ]
    : [wellKnownUrl(issuerUrl, "oauth-authorization-server"), wellKnownUrl(issuerUrl, "openid-configuration")];

  for (const url of candidates) {
    const result = await fetchMetadata(url, ctx);
    if (!result.found) continue;
    if (result.json.issuer !== issuer) {
      throw new OAuthError(
        "issuer_mismatch",
        `authorization server metadata at ${url.href} names issuer ${JSON.stringify(result.json.issuer)}, expected exactly ${JSON.stringify(issuer)}`,
      );
    }
    try {
      await processDiscoveryResponse(issuerUrl, result.response);
    } catch (error) {
      throw toOAuthError(error, "discovery_failed", `authorization server metadata at ${url.href}`);
    }
    return { metadata: checkMetadata(result.json, url, ctx), url: url.href };
  }
  throw new OAuthError("discovery_failed", `no authorization server metadata found for issuer ${issuer} (tried ${candidates.map((u) => u.href).join(", ")})`);
}

/**
 * The 2025-03-26 path, for servers without protected resource metadata: metadata at the MCP server's
 * origin, else the default endpoints `/authorize`, `/token` and `/register` there. That revision did not
 * tie the metadata's `issuer` to its URL, so here the issuer only has to share the server's origin.
 */
export async function discoverLegacyAuthorizationServer(mcpUrl: URL, ctx: MetadataContext): Promise<{ metadata: AuthorizationServerMetadata; url: string | undefined }> {
  const origin = new URL(mcpUrl.origin);
  for (const suffix of ["oauth-authorization-server", "openid-configuration"]) {
    const url = wellKnownUrl(origin, suffix);
    const result = await fetchMetadata(url, ctx);
    if (!result.found) continue;
    const issuer = result.json.issuer;
    if (typeof issuer !== "string" || !URL.canParse(issuer) || new URL(issuer).origin !== origin.origin) {
      throw new OAuthError("issuer_mismatch", `authorization server metadata at ${url.href} names issuer ${JSON.stringify(issuer)}, not on ${origin.origin}`);
    }
    return { metadata: checkMetadata(result.json, url, ctx), url: url.href };
  }
  const metadata: AuthorizationServerMetadata = {
    issuer: origin.origin,
    authorization_endpoint: new URL("/authorize", origin).href,
    token_endpoint: new URL("/token", origin).href,
    registration_endpoint: new URL("/register", origin).href,
  };
  for (const endpoint of ["authorization_endpoint", "token_endpoint"] as const) {
    assertSecureEndpoint(metadata[endpoint] ?? "", endpoint, ctx.rules);
  }
  return { metadata, url: undefined };
}

function checkMetadata(json: Record<string, unknown>, url: URL, ctx: MetadataContext): AuthorizationServerMetadata {
  const authorizationCode = ctx.authorizationCode ?? true;
  const parsed = authorizationServerMetadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OAuthError("discovery_failed", `authorization server metadata at ${url.href} is invalid: ${issue?.path.join(".")} ${issue?.message}`);
  }
  const metadata = parsed.data;
  if (!metadata.token_endpoint || (authorizationCode && !metadata.authorization_endpoint)) {
    throw new OAuthError("discovery_failed", `authorization server metadata at ${url.href} lacks ${metadata.token_endpoint ? "authorization_endpoint" : "token_endpoint"}`);
  }
  if (authorizationCode && !metadata.code_challenge_methods_supported?.includes("S256")) {
    throw new OAuthError("pkce_unsupported", `authorization server ${metadata.issuer} does not advertise PKCE S256 in code_challenge_methods_supported`);
  }
  for (const endpoint of ["authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"] as const) {
    const value = metadata[endpoint];
    if (value !== undefined) assertSecureEndpoint(value, endpoint, ctx.rules);
  }
  return metadata;
}
