import { randomUUID } from "node:crypto";
import { z } from "zod";
import { json, readBody } from "./http.js";
import type { ResolvedProviderOptions } from "./options.js";
import { redirectUriProblem } from "./redirect-uri.js";
import { OAuthServerError, invalidClientMetadata, invalidRedirectUri } from "./server-errors.js";
import { hashToken, randomToken } from "./token-crypto.js";
import type { ClientAuthMethod, ClientMetadata, RegisteredClient } from "./types.js";

/** Display strings are shown on the consent page: bounded, and never trusted as markup (RFC 7591 §5). */
const displayText = z.string().min(1).max(200);
const webUri = z
  .string()
  .max(2000)
  .refine((value) => URL.canParse(value) && ["https:", "http:"].includes(new URL(value).protocol), "must be an http(s) URI");

const metadataSchema = z.object({
  redirect_uris: z.array(z.string().max(2000)).min(1, "at least one redirect URI is required").max(20),
  token_endpoint_auth_method: z.enum(["none", "client_secret_basic", "client_secret_post"]).optional(),
  grant_types: z.array(z.string()).min(1).optional(),
  response_types: z.array(z.string()).min(1).optional(),
  application_type: z.enum(["native", "web"]).optional(),
  client_name: displayText.optional(),
  client_uri: webUri.optional(),
  logo_uri: webUri.optional(),
  tos_uri: webUri.optional(),
  policy_uri: webUri.optional(),
  contacts: z.array(z.string().max(320)).max(10).optional(),
  software_id: z.string().max(200).optional(),
  software_version: z.string().max(200).optional(),
  scope: z.string().max(2000).optional(),
});

/** Validates RFC 7591 client metadata and fills defaults; throws the RFC 7591 §3.2.2 error to answer with. */
export function validateClientMetadata(body: unknown, o: ResolvedProviderOptions): ClientMetadata {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidClientMetadata("the body must be a JSON object");
  const parsed = metadataSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") ?? "metadata";
    const error = field.startsWith("redirect_uris") ? invalidRedirectUri : invalidClientMetadata;
    throw error(`${field}: ${issue?.message ?? "invalid"}`);
  }
  const m = parsed.data;
  for (const uri of m.redirect_uris) {
    const problem = redirectUriProblem(uri, m.application_type);
    if (problem) throw invalidRedirectUri(`redirect URI ${JSON.stringify(uri.slice(0, 200))} ${problem}`);
  }
  const grantTypes = m.grant_types ?? ["authorization_code", "refresh_token"];
  // OAuth 2.1 removed the implicit and password grants; this server issues tokens only through codes.
  const badGrant = grantTypes.find((g) => g !== "authorization_code" && g !== "refresh_token");
  if (badGrant) throw invalidClientMetadata(`grant type ${JSON.stringify(badGrant)} is not supported; use authorization_code and refresh_token`);
  if (!grantTypes.includes("authorization_code")) throw invalidClientMetadata("grant_types must include authorization_code");
  const responseTypes = m.response_types ?? ["code"];
  if (responseTypes.some((r) => r !== "code")) throw invalidClientMetadata('only the response type "code" is supported');

  const requested = m.scope === undefined ? o.registration.defaultScopes : m.scope.split(" ").filter(Boolean);
  // A server with no scopes configured has none to grant: a requested scope (mcp-remote asks for "openid
  // email profile" when the server names none) is dropped from the registration, which RFC 7591 §3.2.1
  // lets the server do, instead of refusing the client. With scopes configured, an unknown one is refused.
  const scopes = o.registration.validScopes.length === 0 ? [] : requested;
  const unknown = scopes.filter((s) => !o.registration.validScopes.includes(s));
  if (unknown.length > 0) throw invalidClientMetadata(`scope not allowed: ${unknown.join(" ").slice(0, 200)}`);

  const { scope: _scope, ...rest } = m;
  // zod marks absent optional fields `undefined`; the stored record should not carry them at all.
  const present = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as typeof rest & { redirect_uris: string[] };
  return {
    ...(present as Omit<ClientMetadata, "token_endpoint_auth_method" | "grant_types" | "response_types">),
    // RFC 7591 §2: an absent method means client_secret_basic.
    token_endpoint_auth_method: (m.token_endpoint_auth_method ?? "client_secret_basic") satisfies ClientAuthMethod,
    grant_types: [...new Set(grantTypes)],
    response_types: ["code"],
    ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
  };
}

/**
 * RFC 7591 dynamic registration: validate, run the policy hook, mint the id (and a secret for
 * confidential clients), let the subclass store the record, and answer 201 with the secret shown once.
 */
export async function handleRegister(
  request: Request,
  o: ResolvedProviderOptions,
  store: (client: RegisteredClient) => Promise<void>,
): Promise<Response> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) throw invalidClientMetadata("the body must be application/json");
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch (error) {
    if (error instanceof OAuthServerError) throw error;
    throw invalidClientMetadata("the body is not valid JSON");
  }
  const metadata = validateClientMetadata(body, o);
  const nowSeconds = Math.floor(o.now() / 1000);
  const secret = metadata.token_endpoint_auth_method === "none" ? undefined : randomToken();
  const expiry = o.registration.clientSecretExpirySeconds;
  const secretFields = secret
    ? { client_secret_hash: hashToken(secret), client_secret_expires_at: expiry === undefined ? 0 : nowSeconds + expiry }
    : {};
  if (o.registration.allow && !(await o.registration.allow({ ...metadata, ...secretFields }, request))) {
    throw new OAuthServerError("access_denied", "client registration refused by policy", 403);
  }
  const client: RegisteredClient = { ...metadata, client_id: randomUUID(), client_id_issued_at: nowSeconds, ...secretFields };
  await store(client);

  const { client_secret_hash: _hash, ...visible } = client;
  return json({ ...visible, ...(secret ? { client_secret: secret } : {}) }, 201);
}
