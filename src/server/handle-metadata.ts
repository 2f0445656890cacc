import type { ResolvedProviderOptions } from "./options.js";

export interface Endpoints {
  authorization: string;
  token: string;
  registration: string | undefined;
  revocation: string | undefined;
}

export function endpoints(o: ResolvedProviderOptions): Endpoints {
  const at = (name: string) => new URL(`${o.basePath}/${name}`, o.baseUrl).href;
  return {
    authorization: at("authorize"),
    token: at("token"),
    registration: o.registration.enabled ? at("register") : undefined,
    revocation: o.revocationEnabled ? at("revoke") : undefined,
  };
}

/**
 * Paths the authorization server metadata is served at: RFC 8414 §3.1 path insertion, and the OpenID
 * Connect aliases (path insertion, and path appending for an issuer with a path), since MCP clients try
 * all of them (MCP 2025-11-25 "Authorization Server Metadata Discovery").
 */
export function metadataPaths(issuer: string): string[] {
  const path = new URL(issuer).pathname.replace(/\/+$/, "");
  const paths = [`/.well-known/oauth-authorization-server${path}`, `/.well-known/openid-configuration${path}`];
  if (path) paths.push(`${path}/.well-known/openid-configuration`);
  return paths;
}

/** RFC 8414 metadata. `issuer` is byte-identical to the one in `iss` and in the resource metadata. */
export function authorizationServerMetadata(o: ResolvedProviderOptions): Record<string, unknown> {
  const e = endpoints(o);
  const authMethods = ["none", "client_secret_basic", "client_secret_post"];
  return {
    issuer: o.issuer,
    authorization_endpoint: e.authorization,
    token_endpoint: e.token,
    ...(e.registration ? { registration_endpoint: e.registration } : {}),
    ...(e.revocation ? { revocation_endpoint: e.revocation, revocation_endpoint_auth_methods_supported: authMethods } : {}),
    ...(o.scopesSupported.length > 0 ? { scopes_supported: o.scopesSupported } : {}),
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: authMethods,
    code_challenge_methods_supported: ["S256"],
    authorization_response_iss_parameter_supported: true,
    ...(o.clientMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    ...(o.serviceDocumentationUrl ? { service_documentation: o.serviceDocumentationUrl } : {}),
  };
}

/** RFC 9728 metadata of the MCP endpoint; `resource` is identical to the URL clients use. */
export function protectedResourceMetadata(o: ResolvedProviderOptions): Record<string, unknown> {
  return {
    resource: o.resource,
    authorization_servers: [o.issuer],
    ...(o.scopesSupported.length > 0 ? { scopes_supported: o.scopesSupported } : {}),
    bearer_methods_supported: ["header"],
    ...(o.serviceDocumentationUrl ? { resource_documentation: o.serviceDocumentationUrl } : {}),
  };
}

/** Metadata is public and stable: cacheable for a while, unlike token responses. */
export function metadataResponse(document: Record<string, unknown>): Response {
  return new Response(JSON.stringify(document), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "public, max-age=3600" },
  });
}
