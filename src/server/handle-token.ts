import { authenticateClient } from "./authenticate-client.js";
import { authorizationCodeGrant, type CodeGrantDeps } from "./grant-authorization-code.js";
import { refreshTokenGrant, type RefreshGrantDeps } from "./grant-refresh-token.js";
import { json, readForm } from "./http.js";
import type { ResolvedProviderOptions } from "./options.js";
import { OAuthServerError, invalidRequest } from "./server-errors.js";
import type { RegisteredClient } from "./types.js";

export interface TokenDeps extends CodeGrantDeps, RefreshGrantDeps {
  getClient(clientId: string): Promise<RegisteredClient | undefined>;
}

/** The token endpoint: client authentication, then the grant; answers carry `Cache-Control: no-store`. */
export async function handleToken(request: Request, o: ResolvedProviderOptions, deps: TokenDeps): Promise<Response> {
  const form = await readForm(request);
  const client = await authenticateClient(request, form, (id) => deps.getClient(id), o.now());
  const grantType = form.get("grant_type");
  if (!grantType) throw invalidRequest("grant_type is required");
  if (grantType !== "authorization_code" && grantType !== "refresh_token") {
    throw new OAuthServerError("unsupported_grant_type", "supported grant types: authorization_code, refresh_token");
  }
  if (!client.grant_types.includes(grantType)) throw new OAuthServerError("unauthorized_client", `the client did not register the ${grantType} grant`);
  const body = grantType === "authorization_code" ? await authorizationCodeGrant(client, form, o, deps) : await refreshTokenGrant(client, form, o, deps);
  return json(body);
}
