import { readAtMost } from "../shared/back-channel.js";
import { OAuthServerError, invalidRequest } from "./server-errors.js";

/** RFC 6749 §5.1 and OAuth 2.1 §3.2.3: token-bearing responses must not be cached. */
export const noStore: Readonly<Record<string, string>> = { "cache-control": "no-store", pragma: "no-cache" };

/** Largest request body any endpoint reads. Registration documents and token requests are small. */
export const maxBodyBytes = 65_536;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...noStore, ...headers },
  });
}

/** RFC 6749 §5.2 error body, with `WWW-Authenticate` when client authentication failed (RFC 6749 §5.2, 401). */
export function oauthErrorResponse(error: OAuthServerError, headers: Record<string, string> = {}): Response {
  const extra = error.status === 401 && error.error === "invalid_client" ? { "www-authenticate": 'Basic realm="oauth"' } : {};
  return json({ error: error.error, error_description: error.description }, error.status, { ...extra, ...headers });
}

export function methodNotAllowed(allow: string): Response {
  return new Response(null, { status: 405, headers: { allow } });
}

/** Reads the body as text, refusing bodies over `maxBodyBytes` whatever Content-Length claims. */
export async function readBody(request: Request): Promise<string> {
  const tooLarge = () => new OAuthServerError("invalid_request", "request body too large", 413);
  if (Number(request.headers.get("content-length") ?? "0") > maxBodyBytes) throw tooLarge();
  if (!request.body) return "";
  return Buffer.from(await readAtMost(request.body, maxBodyBytes, tooLarge)).toString("utf8");
}

/**
 * An `application/x-www-form-urlencoded` body as a map. RFC 6749 §3.1: a parameter sent twice is an
 * error, not a choice, so a duplicate is refused rather than one copy silently winning.
 */
export async function readForm(request: Request): Promise<Map<string, string>> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    throw invalidRequest("the request body must be application/x-www-form-urlencoded");
  }
  return singleValued(new URLSearchParams(await readBody(request)));
}

export function singleValued(params: URLSearchParams): Map<string, string> {
  const map = new Map<string, string>();
  const seen = new Set<string>();
  for (const [key, value] of params) {
    // Counted before empty values are dropped: `x=&x=value` is a parameter sent twice too.
    if (seen.has(key)) throw invalidRequest(`parameter \`${key}\` was sent more than once`);
    seen.add(key);
    // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    if (value !== "") map.set(key, value);
  }
  return map;
}

/** Space-separated scope string to a de-duplicated list, refusing characters RFC 6749 §3.3 excludes. */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  const list = scope.split(" ").filter((s) => s.length > 0);
  if (list.some((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) throw new OAuthServerError("invalid_scope", "scope contains invalid characters");
  return [...new Set(list)];
}
