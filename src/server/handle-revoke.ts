import { authenticateClient } from "./authenticate-client.js";
import { readForm } from "./http.js";
import type { ResolvedProviderOptions } from "./options.js";
import { invalidRequest } from "./server-errors.js";
import { hashToken } from "./token-crypto.js";
import type { AccessToken, RefreshToken, RegisteredClient, Revocation } from "./types.js";

export interface RevokeDeps {
  getClient(clientId: string): Promise<RegisteredClient | undefined>;
  loadAccessToken(tokenId: string): Promise<AccessToken | undefined>;
  loadRefreshToken(tokenId: string): Promise<RefreshToken | undefined>;
  revokeToken(revocation: Revocation): Promise<void>;
}

/**
 * RFC 7009 revocation. The client authenticates; only its own tokens are revoked; unknown, foreign and
 * already revoked tokens get the same 200 so the endpoint cannot be used to test tokens. Revoking a
 * refresh token revokes its whole grant, access tokens included (§2.1).
 */
export async function handleRevoke(request: Request, o: ResolvedProviderOptions, deps: RevokeDeps): Promise<Response> {
  const form = await readForm(request);
  const client = await authenticateClient(request, form, (id) => deps.getClient(id), o.now());
  const token = form.get("token");
  if (!token) throw invalidRequest("token is required");
  const id = hashToken(token);
  // §2.1: the hint only orders the lookup; an unknown hint is ignored.
  let access: AccessToken | undefined;
  let refresh: RefreshToken | undefined;
  if (form.get("token_type_hint") === "refresh_token") {
    refresh = await deps.loadRefreshToken(id);
    if (!refresh) access = await deps.loadAccessToken(id);
  } else {
    access = await deps.loadAccessToken(id);
    if (!access) refresh = await deps.loadRefreshToken(id);
  }

  if (refresh && refresh.clientId === client.client_id) {
    await deps.revokeToken({ type: "grant", grantId: refresh.grantId, clientId: client.client_id, reason: "revoked" });
  } else if (access && access.clientId === client.client_id) {
    await deps.revokeToken({ type: "access_token", token: access });
  }
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}
