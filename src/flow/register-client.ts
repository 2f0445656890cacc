import { dynamicClientRegistrationRequest, processDynamicClientRegistrationResponse } from "oauth4webapi";
import { OAuthError } from "../shared/errors.js";
import { toOAuthError } from "../shared/map-error.js";
import { asAuthorizationServer, httpOptions } from "./oauth4webapi-options.js";
import { withSignal, type FetchLike } from "../shared/back-channel.js";
import { backoffPolicy, withBackoff } from "./retry-after.js";
import type { ResolvedOptions } from "./resolved-options.js";
import type { AuthorizationServerMetadata, ClientRecord } from "../store/token-store.js";

export type ClientSource = "dynamic" | "stored" | "pre-registered" | "metadata-document";

/**
 * The client identity that needs no registration request, in the MCP order: a pre-registered client,
 * else a Client ID Metadata Document when the server supports it. `undefined` means register (or reuse).
 */
export function configuredClient(
  options: Pick<ResolvedOptions, "clientId" | "clientSecret" | "signingKey" | "clientMetadataUrl" | "additionalClientMetadata">,
  as: AuthorizationServerMetadata,
  redirectUri?: string,
): { record: ClientRecord; source: ClientSource } | undefined {
  // Grants without a browser (and refreshes) have no redirect URI.
  const redirectUris = redirectUri === undefined ? [] : [redirectUri];
  if (options.clientId) {
    const method = options.additionalClientMetadata.token_endpoint_auth_method;
    return {
      source: "pre-registered",
      record: {
        client_id: options.clientId,
        ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
        token_endpoint_auth_method: typeof method === "string" ? method : options.signingKey ? "private_key_jwt" : secretMethod(as, options.clientSecret !== undefined),
        redirect_uris: redirectUris,
      },
    };
  }
  if (options.clientMetadataUrl && as.client_id_metadata_document_supported === true) {
    return {
      source: "metadata-document",
      record: { client_id: options.clientMetadataUrl, token_endpoint_auth_method: "none", redirect_uris: redirectUris },
    };
  }
  return undefined;
}

/**
 * A stored dynamic registration is reused only for the same redirect URI, while its secret is valid, and
 * when the scope it was registered with (if the server said) covers `scope`: servers that limit a client
 * to its registered scope would refuse a step-up beyond it, so the client registers again instead.
 */
export function isUsableRegistration(client: ClientRecord, redirectUri: string, nowMs: number, scope?: string): boolean {
  const expiresAt = client.client_secret_expires_at ?? 0;
  const secretExpired = client.client_secret !== undefined && expiresAt !== 0 && expiresAt * 1000 <= nowMs + 60_000;
  const registered = typeof client.scope === "string" ? client.scope.split(" ") : undefined;
  const covered = !registered || (scope ?? "").split(" ").every((s) => s === "" || registered.includes(s));
  return client.redirect_uris.includes(redirectUri) && !secretExpired && covered;
}

/**
 * RFC 7591 dynamic registration as a native public client (SEP-837 `application_type`). `scope` is the
 * scope the authorization will ask for, registered with it (as the MCP SDK does): servers that limit a
 * client to its registered scope would otherwise refuse the request. A 429 or 503 is retried as the
 * options allow (`maxRetries`, `maxRetryAfterMs`), then fails with `registration_failed`, transient.
 */
export async function registerClient(
  as: AuthorizationServerMetadata,
  redirectUri: string,
  options: Pick<
    ResolvedOptions,
    "clientName" | "scopes" | "additionalClientMetadata" | "maxRetries" | "maxRetryAfterMs" | "requestTimeoutMs" | "now" | "signal" | "onEvent"
  >,
  fetch: FetchLike,
  scope: string | undefined = options.scopes.length > 0 ? options.scopes.join(" ") : undefined,
): Promise<ClientRecord> {
  if (!as.registration_endpoint) {
    throw new OAuthError(
      "registration_failed",
      `authorization server ${as.issuer} offers no dynamic registration and no client is configured; pass \`clientId\` (and \`clientSecret\`) or \`clientMetadataUrl\``,
    );
  }
  const metadata = {
    client_name: options.clientName,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: dynamicMethod(as),
    application_type: "native",
    ...(scope ? { scope } : {}),
    ...options.additionalClientMetadata,
  };
  const endpoint = as.registration_endpoint;
  let gaveUp: string | undefined;
  try {
    const sent = await withBackoff(
      (deadline) => dynamicClientRegistrationRequest(asAuthorizationServer(as), metadata, httpOptions(endpoint, withSignal(fetch, deadline))),
      backoffPolicy(options),
      "registration",
    );
    gaveUp = sent.gaveUp;
    const registered = await processDynamicClientRegistrationResponse(await withSecretExpiry(sent.response));
    return {
      ...registered,
      redirect_uris: Array.isArray(registered.redirect_uris) ? (registered.redirect_uris as string[]) : [redirectUri],
      token_endpoint_auth_method:
        typeof registered.token_endpoint_auth_method === "string"
          ? registered.token_endpoint_auth_method
          : registered.client_secret
            ? metadata.token_endpoint_auth_method
            : "none",
    } as ClientRecord;
  } catch (error) {
    throw toOAuthError(error, "registration_failed", `dynamic client registration at ${endpoint}${gaveUp ? ` (${gaveUp})` : ""}`);
  }
}

/**
 * RFC 7591 §3.2.1 requires `client_secret_expires_at` with every secret, and oauth4webapi rejects a
 * response without it. Servers that leave it out (the MCP conformance suite's among them) mean a secret
 * that does not expire, so it is read as 0, "never", rather than failing the whole login.
 */
async function withSecretExpiry(response: Response): Promise<Response> {
  if (!response.ok) return response;
  const json: unknown = await response
    .clone()
    .json()
    .catch(() => undefined);
  if (typeof json !== "object" || json === null || Array.isArray(json)) return response;
  const body = json as Record<string, unknown>;
  if (typeof body.client_secret !== "string" || body.client_secret_expires_at !== undefined) return response;
  return new Response(JSON.stringify({ ...body, client_secret_expires_at: 0 }), { status: response.status, headers: response.headers });
}

/** A public native client prefers `none`; a server that refuses public clients gets a secret-based method. */
function dynamicMethod(as: AuthorizationServerMetadata): string {
  const supported = as.token_endpoint_auth_methods_supported;
  if (!supported || supported.includes("none")) return "none";
  return secretMethod(as, true);
}

/**
 * A client with a secret uses `client_secret_post` when the server lists it, else `client_secret_basic`
 * (also what an absent list means, RFC 8414 §2). Post first, although RFC 6749 §2.3.1 prefers Basic,
 * because it is the one method every MCP server family reads at every endpoint: the MCP TypeScript
 * SDK's `mcpAuthRouter` reads secrets from the body only, and the MCP Python SDK (FastMCP's servers)
 * accepts Basic at its token endpoint but requires `client_secret` in the body at `/revoke`
 * (modelcontextprotocol/python-sdk#3508), so a Basic client could never log out there.
 */
function secretMethod(as: AuthorizationServerMetadata, hasSecret: boolean): string {
  if (!hasSecret) return "none";
  const supported = as.token_endpoint_auth_methods_supported;
  return supported?.includes("client_secret_post") ? "client_secret_post" : "client_secret_basic";
}
