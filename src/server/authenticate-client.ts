import { invalidClient, invalidRequest } from "./server-errors.js";
import { hashToken, safeEqual } from "./token-crypto.js";
import type { RegisteredClient } from "./types.js";

/**
 * Client authentication at the token and revocation endpoints (RFC 6749 §2.3, OAuth 2.1 §2.4): the
 * method the client registered, and only that one. Secrets are compared in constant time through their
 * hashes, and an expired secret (RFC 7591 `client_secret_expires_at`) no longer authenticates.
 * Every failure is the same `invalid_client`, so a caller cannot probe which client ids exist.
 */
export async function authenticateClient(
  request: Request,
  form: Map<string, string>,
  getClient: (clientId: string) => Promise<RegisteredClient | undefined>,
  nowMs: number,
): Promise<RegisteredClient> {
  const basic = parseBasic(request.headers.get("authorization"));
  const formId = form.get("client_id");
  const formSecret = form.get("client_secret");
  if (basic && formSecret !== undefined) throw invalidRequest("use one client authentication method, not both");
  if (basic && formId !== undefined && formId !== basic.id) throw invalidRequest("client_id differs from the authenticated client");

  const clientId = basic?.id ?? formId;
  if (!clientId) throw invalidClient("client authentication failed");
  const client = await getClient(clientId);
  if (!client) throw invalidClient("client authentication failed");

  const method = client.token_endpoint_auth_method;
  const secret = method === "client_secret_basic" ? basic?.secret : method === "client_secret_post" ? formSecret : undefined;
  if (method === "none") {
    if (basic || formSecret !== undefined) throw invalidClient("client authentication failed");
    return client;
  }
  if (secret === undefined || !client.client_secret_hash || !safeEqual(hashToken(secret), client.client_secret_hash)) {
    throw invalidClient("client authentication failed");
  }
  const expiresAt = client.client_secret_expires_at ?? 0;
  if (expiresAt !== 0 && expiresAt * 1000 <= nowMs) throw invalidClient("the client secret has expired; register again");
  return client;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
function parseBasic(header: string | null): { id: string; secret: string } | undefined {
  const match = header?.match(/^Basic ([A-Za-z0-9+/]+=*)$/i);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw invalidClient("client authentication failed");
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " ")), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " ")) };
  } catch {
    throw invalidClient("client authentication failed");
  }
}
