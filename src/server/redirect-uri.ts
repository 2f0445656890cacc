import { isLoopbackHost } from "../shared/back-channel.js";

/** Schemes that run code or read local data in a browser, refused whatever the client type (RFC 9700 §2.6). */
const dangerousSchemes = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "filesystem:"]);

/**
 * Why a redirect URI cannot be registered, or undefined when it can: absolute, no fragment, no
 * credentials; `https:`; `http:` only on a loopback host (RFC 8252 §7.3); a private-use scheme
 * (RFC 8252 §7.1, reverse-domain with a dot) only for `application_type: "native"`.
 */
export function redirectUriProblem(value: string, applicationType: "native" | "web" | undefined): string | undefined {
  if (!URL.canParse(value)) return "is not an absolute URI";
  const url = new URL(value);
  if (url.hash || value.includes("#")) return "must not contain a fragment";
  if (url.username || url.password) return "must not contain credentials";
  if (dangerousSchemes.has(url.protocol)) return `uses the forbidden scheme ${url.protocol}`;
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:") return isLoopbackHost(url.hostname) ? undefined : "uses http: on a host that is not loopback";
  if (applicationType !== "native") return `uses the private-use scheme ${url.protocol}, allowed only for native clients`;
  if (!url.protocol.slice(0, -1).includes(".")) return `uses the private-use scheme ${url.protocol}, which must be a reverse domain name (RFC 8252 §7.1)`;
  return undefined;
}

/**
 * The registered redirect URI a request's `redirect_uri` matches, or undefined. Exact string comparison
 * (RFC 9700 §2.1), except that for a registered loopback `http:` URI the port may differ (RFC 8252 §7.3:
 * native apps pick a free port at run time); scheme, host, path and query must still be identical.
 */
export function matchRedirectUri(requested: string, registered: readonly string[]): string | undefined {
  if (registered.includes(requested)) return requested;
  if (!URL.canParse(requested)) return undefined;
  const asked = new URL(requested);
  if (asked.protocol !== "http:" || !isLoopbackHost(asked.hostname) || requested.includes("#")) return undefined;
  return registered.find((candidate) => {
    if (!URL.canParse(candidate)) return false;
    const known = new URL(candidate);
    if (known.protocol !== "http:" || !isLoopbackHost(known.hostname)) return false;
    // Compare the raw strings with the port cut out, so no URL normalisation can make two different URIs equal.
    return withoutPort(candidate) === withoutPort(requested);
  });
}

function withoutPort(raw: string): string {
  return raw.replace(/^(http:\/\/(?:\[[^\]]+\]|[^/:?#]+))(?::\d*)?/, "$1");
}
